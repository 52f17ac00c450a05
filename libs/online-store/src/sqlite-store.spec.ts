import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqliteOnlineStore } from './sqlite-store';
import { describeOnlineStoreBehaviour } from './testing/behaviour';
import { T, ek, i64, view } from './testing/values';

const dir = mkdtempSync(path.join(tmpdir(), 'larder-online-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeOnlineStoreBehaviour('sqlite', () => Promise.resolve(new SqliteOnlineStore({ path: path.join(dir, 'online.db') })));

describe('sqlite online store', () => {
  it('keeps data across reopening the file, in WAL mode', async () => {
    const file = path.join(dir, 'reopen.db');
    const v = view('p', 'v', { x: T.INT64 });
    const first = new SqliteOnlineStore({ path: file });
    await first.write(v, [{ entityKey: ek({ driver_id: 1n }), eventTs: 5, values: { x: i64(42) } }]);
    await first.close();
    const second = new SqliteOnlineStore({ path: file });
    expect(await second.read([{ view: v, entityKeys: [ek({ driver_id: 1n })] }])).toEqual([[{ eventTs: 5, values: [i64(42)] }]]);
    await second.close();
  });

  it('applies last-writer-wins between two connections to the same file', async () => {
    const file = path.join(dir, 'two.db');
    const v = view('p', 'v', { x: T.INT64 });
    const a = new SqliteOnlineStore({ path: file });
    const b = new SqliteOnlineStore({ path: file });
    await a.write(v, [{ entityKey: ek({ driver_id: 1n }), eventTs: 10, values: { x: i64(10) } }]);
    expect(await b.write(v, [{ entityKey: ek({ driver_id: 1n }), eventTs: 9, values: { x: i64(9) } }])).toEqual({ written: 0, skipped: 1 });
    expect(await a.read([{ view: v, entityKeys: [ek({ driver_id: 1n })] }])).toEqual([[{ eventTs: 10, values: [i64(10)] }]]);
    await a.close();
    await b.close();
  });
});
