// Guards the GC fix in CallContext: every call's context must share one hidden class.
// A context with its own (per-instance accessors, properties added in another order)
// is kept alive by V8's scavenger with the call it belongs to, and that showed only as a
// 3x worse p99 in the online benchmark. %HaveSameMap needs --allow-natives-syntax, so the
// check runs in a node of its own.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

test('contexts of calls that differ in every way share one hidden class', () => {
  const script = path.join(__dirname, '../testing/context-maps.ts');
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', script], { encoding: 'utf8', timeout: 30_000 });
  const same = JSON.parse(out) as boolean[];
  expect(same).toHaveLength(8);
  expect(same).toEqual(same.map(() => true));
});
