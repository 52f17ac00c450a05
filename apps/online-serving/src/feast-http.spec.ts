// JSON parity with Feast 0.67's own feature server (`feast serve` from the feast package on
// PyPI): both serve one Redis that Larder wrote in the `feast` layout, and answer the
// same bodies. With ?format=feast the gateway's bytes are Feast's; by default the keys
// and statuses are, and the numbers are ours (see the README's table).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { DurationSchema } from '@bufbuild/protobuf/wkt';
import { feastPython } from '@larder/online-store';
import { registryV1, typesV1 } from '@larder/proto';
import { testServices } from '@larder/testing';
import { driverRepo, startHarness } from './testing';
import type { Harness } from './testing';

const T = typesV1.ValueType;
type Value = typesV1.Value;
const v = (val: NonNullable<MessageInitShape<typeof typesV1.ValueSchema>['val']>): Value => create(typesV1.ValueSchema, { val });

// Whole seconds: Feast keeps microseconds, Larder milliseconds; both print the same then.
const NOW_S = Math.floor(Date.now() / 1000) - 60;

const FMT_FEATURES: [string, keyof typeof T][] = [
  ['f32', 'FLOAT'],
  ['whole', 'DOUBLE'],
  ['tiny', 'DOUBLE'],
  ['huge', 'DOUBLE'],
  ['big', 'INT64'],
  ['i32', 'INT32'],
  ['flag', 'BOOL'],
  ['name', 'STRING'],
  ['bts', 'BYTES'],
  ['f32s', 'FLOAT_LIST'],
  ['ds', 'DOUBLE_LIST'],
  ['is', 'INT64_LIST'],
  ['ss', 'STRING_LIST'],
  ['bs', 'BOOL_LIST'],
];

function fmtRow(scale: number): Record<string, Value> {
  return {
    f32: v({ case: 'floatVal', value: Math.fround(0.1 * scale) }),
    whole: v({ case: 'doubleVal', value: scale }),
    tiny: v({ case: 'doubleVal', value: 1e-7 * scale }),
    huge: v({ case: 'doubleVal', value: 1e17 * scale }),
    big: v({ case: 'int64Val', value: 2n ** 60n + BigInt(scale) }),
    i32: v({ case: 'int32Val', value: -5 * scale }),
    flag: v({ case: 'boolVal', value: scale % 2 === 1 }),
    name: v({ case: 'stringVal', value: `naïve "q"\n${scale}` }),
    bts: v({ case: 'bytesVal', value: new Uint8Array([1, 2, 255, scale]) }),
    f32s: v({ case: 'floatListVal', value: { val: [Math.fround(0.1), Math.fround(2.5 * scale)] } }),
    ds: v({ case: 'doubleListVal', value: { val: [scale, 0.25, 123456789.125] } }),
    is: v({ case: 'int64ListVal', value: { val: [2n ** 60n, BigInt(scale)] } }),
    ss: v({ case: 'stringListVal', value: { val: ['a', String(scale)] } }),
    bs: v({ case: 'boolListVal', value: { val: [true, false] } }),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForHealth(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const until = Date.now() + 180_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`feast serve exited with ${child.exitCode}: ${log().slice(-4000)}`);
    try {
      if ((await fetch(`${url}/health`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`feast serve did not become healthy: ${log().slice(-4000)}`);
}

/** One POST; a kept-alive connection the server closed meanwhile is retried once on a new one. */
async function post(url: string, body: unknown, retry = true): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, text: await res.text() };
  } catch (error) {
    if (!retry) throw error;
    return post(url, body, false);
  }
}

const allFmt = FMT_FEATURES.map(([name]) => `fmt_stats:${name}`);
const REQUESTS: Record<string, unknown> = {
  refs: { features: ['driver_stats:conv_rate', 'driver_stats:trips', ...allFmt], entities: { driver_id: [1, 2, 99] } },
  'full names': { features: ['driver_stats:conv_rate', ...allFmt], entities: { driver_id: [2, 1] }, full_feature_names: true },
  service: { feature_service: 'svc', entities: { driver_id: [1, 99] } },
};

describe('JSON parity with feast serve on one Redis (feast layout)', () => {
  let h: Harness;
  let feast: ChildProcess | undefined;
  let feastUrl = '';
  let dir = '';
  let fmtView: registryV1.FeatureView;

  beforeAll(async () => {
    const python = await feastPython();
    h = await startHarness({ type: 'redis', url: testServices().redis.url, layout: 'feast' });
    const repo = driverRepo(h.project);
    fmtView = create(registryV1.FeatureViewSchema, {
      name: 'fmt_stats',
      entities: ['driver'],
      batchSource: 'src',
      ttl: create(DurationSchema, { seconds: 0n }),
      schema: FMT_FEATURES.map(([name, type]) => ({ name, valueType: T[type] })),
    });
    await h.apply({
      featureViews: [...repo.featureViews, fmtView],
      featureServices: [
        ...repo.featureServices,
        create(registryV1.FeatureServiceSchema, {
          name: 'svc',
          projections: [{ featureView: 'driver_stats', features: ['conv_rate'] }, { featureView: 'fmt_stats' }],
        }),
      ],
    });
    const driver = {
      project: h.project,
      name: 'driver_stats',
      joinKeys: ['driver_id'],
      features: [
        { name: 'conv_rate', type: T.DOUBLE },
        { name: 'trips', type: T.INT64 },
      ],
    };
    const fmt = { project: h.project, name: 'fmt_stats', joinKeys: ['driver_id'], features: FMT_FEATURES.map(([name, type]) => ({ name, type: T[type] })) };
    const key = (id: number) => ({ joinKeys: ['driver_id'], entityValues: [v({ case: 'int64Val', value: BigInt(id) })] });
    await h.store.write(driver, [
      { entityKey: key(1), eventTs: NOW_S * 1000, values: { conv_rate: v({ case: 'doubleVal', value: 0.5 }), trips: v({ case: 'int64Val', value: 10n }) } },
      {
        entityKey: key(2),
        eventTs: NOW_S * 1000 - 1000,
        values: { conv_rate: v({ case: 'doubleVal', value: 2 }), trips: v({ case: 'int64Val', value: 2n ** 53n + 1n }) },
      },
    ]);
    await h.store.write(fmt, [
      { entityKey: key(1), eventTs: NOW_S * 1000, values: fmtRow(1) },
      { entityKey: key(2), eventTs: NOW_S * 1000, values: fmtRow(2) },
    ]);

    dir = await mkdtemp(path.join(os.tmpdir(), 'larder-feast-serve-'));
    const port = await freePort();
    feastUrl = `http://127.0.0.1:${port}`;
    const redis = new URL(testServices().redis.url);
    const spec = {
      repo: dir,
      project: h.project,
      redis: `${redis.hostname}:${redis.port}`,
      port,
      entities: [
        { name: 'driver', join_key: 'driver_id', type: 'INT64' },
        { name: 'customer', join_key: 'customer_id', type: 'STRING' },
      ],
      views: [
        {
          name: 'driver_stats',
          entities: ['driver'],
          ttl_s: 3600,
          features: [
            { name: 'conv_rate', type: 'DOUBLE' },
            { name: 'trips', type: 'INT64' },
          ],
        },
        { name: 'fmt_stats', entities: ['driver'], ttl_s: 0, features: FMT_FEATURES.map(([name, type]) => ({ name, type })) },
      ],
      services: [
        {
          name: 'svc',
          projections: [
            { view: 'driver_stats', features: ['conv_rate'] },
            { view: 'fmt_stats', features: null },
          ],
        },
      ],
    };
    let log = '';
    const script = path.resolve(__dirname, '..', 'test', 'feast_server.py');
    feast = spawn(python, [script], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    feast.stdout?.on('data', (c: Buffer) => (log += c.toString()));
    feast.stderr?.on('data', (c: Buffer) => (log += c.toString()));
    feast.stdin?.end(JSON.stringify(spec));
    await waitForHealth(feastUrl, feast, () => log);
  }, 20 * 60_000);

  afterAll(async () => {
    if (feast?.pid !== undefined && feast.exitCode === null) {
      const exited = new Promise((resolve) => feast?.once('exit', resolve));
      process.kill(-feast.pid, 'SIGTERM');
      await exited;
    }
    await h?.close();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  /**
   * Feast 0.67's server does not keep the request's order of a view's features (nor a
   * service's); Larder answers in the order asked. So each request goes to Feast first,
   * and Larder is asked for the features in the order Feast answered with (for the
   * service, its projection is re-applied in that order).
   */
  async function inFeastOrder(name: string): Promise<{ body: Record<string, unknown>; theirs: { status: number; text: string } }> {
    const body = REQUESTS[name] as Record<string, unknown>;
    const theirs = await post(`${feastUrl}/get-online-features`, body);
    expect(theirs.status).toBe(200);
    const names = (JSON.parse(theirs.text) as FeastBody).metadata.feature_names.slice(1);
    const bare = (n: string) => n.replace(/^.*__/, '');
    if ('feature_service' in body) {
      const repo = driverRepo(h.project);
      await h.apply({
        featureViews: [...repo.featureViews, fmtView],
        featureServices: [
          ...repo.featureServices,
          create(registryV1.FeatureServiceSchema, {
            name: 'svc',
            projections: [
              { featureView: 'driver_stats', features: ['conv_rate'] },
              { featureView: 'fmt_stats', features: names.slice(1).map(bare) },
            ],
          }),
        ],
      });
      return { body, theirs };
    }
    const views = new Map((body['features'] as string[]).map((ref) => [ref.split(':')[1] as string, ref.split(':')[0] as string]));
    return { body: { ...body, features: names.map((n) => `${views.get(bare(n)) as string}:${bare(n)}`) }, theirs };
  }

  /** Feast 0.67 answers a missing entity's features PRESENT (value null); Larder NOT_FOUND. Returns how many. */
  function notFoundAsFeastSays(ours: FeastBody, theirs: FeastBody): number {
    let n = 0;
    ours.results.forEach((r, i) =>
      r.statuses.forEach((status, row) => {
        if (status !== 'NOT_FOUND') return;
        expect([theirs.results[i]?.statuses[row], theirs.results[i]?.values[row], theirs.results[i]?.event_timestamps[row]]).toEqual([
          'PRESENT',
          null,
          '1970-01-01T00:00:00Z',
        ]);
        n++;
      }),
    );
    return n;
  }

  it.each(Object.keys(REQUESTS))('answers %s with Feast’s bytes under ?format=feast, but for NOT_FOUND', async (name) => {
    const { body, theirs } = await inFeastOrder(name);
    const ours = await post(`${h.httpUrl}/get-online-features?format=feast`, body);
    expect(ours.status).toBe(200);
    const missing = notFoundAsFeastSays(JSON.parse(ours.text) as FeastBody, JSON.parse(theirs.text) as FeastBody);
    expect(missing).toBe(name === 'full names' ? 0 : (JSON.parse(ours.text) as FeastBody).results.length - 1);
    expect(ours.text.replaceAll('"NOT_FOUND"', '"PRESENT"')).toBe(theirs.text);
  });

  it.each(Object.keys(REQUESTS))('answers %s with Feast’s keys by default, and the same values in our number form', async (name) => {
    const { body, theirs: theirText } = await inFeastOrder(name);
    const theirs = JSON.parse(theirText.text) as FeastBody;
    const res = await post(`${h.httpUrl}/get-online-features`, body);
    expect(res.status).toBe(200);
    const ours = JSON.parse(res.text) as FeastBody;
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    expect(ours.metadata).toEqual(theirs.metadata);
    notFoundAsFeastSays(ours, theirs);
    expect(ours.results.map((r) => [Object.keys(r).sort(), r.event_timestamps])).toEqual(
      theirs.results.map((r) => [Object.keys(r).sort(), r.event_timestamps]),
    );
    // Our numbers differ only in form: float32 at its own precision, int64 past 2^53 as strings.
    const same = (a: unknown, b: unknown): boolean =>
      Array.isArray(a) && Array.isArray(b)
        ? a.length === b.length && a.every((x, i) => same(x, b[i]))
        : typeof a === 'number' && typeof b === 'number'
          ? a === b || Math.fround(a) === Math.fround(b)
          : typeof a === 'string' && typeof b === 'number'
            ? /^-?\d+$/.test(a) && Math.abs(Number(a) - b) <= 2 ** 11
            : a === b;
    ours.results.forEach((r, i) => r.values.forEach((value, row) => expect([i, row, same(value, theirs.results[i]?.values[row])]).toEqual([i, row, true])));
    expect(res.text).not.toBe(theirText.text);
  });

  // The gateway's README lists these; a client that branches on status codes needs the map.
  const errors: [string, unknown, number, number][] = [
    ['unknown view', { features: ['nope:x'], entities: { driver_id: [1] } }, 404, 400],
    ['unknown feature', { features: ['driver_stats:nope'], entities: { driver_id: [1] } }, 500, 400],
    ['unknown feature service', { feature_service: 'nope', entities: { driver_id: [1] } }, 404, 404],
    ['wrong entity type', { features: ['driver_stats:trips'], entities: { driver_id: ['abc'] } }, 500, 400],
  ];
  for (const [name, body, feastStatus, larderStatus] of errors) {
    it(`${name}: Feast answers ${feastStatus}, Larder ${larderStatus} with a JSON error naming it`, async () => {
      const theirs = await post(`${feastUrl}/get-online-features`, body);
      const ours = await post(`${h.httpUrl}/get-online-features`, body);
      expect([theirs.status, ours.status]).toEqual([feastStatus, larderStatus]);
      expect(JSON.parse(ours.text)).toEqual({
        code: larderStatus === 404 ? 'NOT_FOUND' : 'INVALID_ARGUMENT',
        message: expect.stringMatching(/nope|driver_id/),
      });
    });
  }

  it('refuses an unknown ?format with 400 naming it', async () => {
    const res = await post(`${h.httpUrl}/get-online-features?format=python`, REQUESTS['refs']);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toEqual({ code: 'INVALID_ARGUMENT', message: 'format: expected larder or feast but got "python"' });
  });
});

interface FeastBody {
  metadata: { feature_names: string[] };
  results: { values: unknown[]; statuses: string[]; event_timestamps: string[] }[];
}
