// Feast's gRPC contract, called through the stubs inside the real feast package from
// PyPI (test/feast_serving_client.py), against the data Larder's own contract serves.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { feastPython } from '@larder/online-store';
import { servingV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import { runInProcess, testServices } from '@larder/testing';
import { onlineServingService } from './service';
import { FEAST_SERVING_VERSION } from './feast-grpc';
import { startHarness } from './testing';
import type { Harness } from './testing';

const T = typesV1.ValueType;
type Value = typesV1.Value;
const i64 = (n: number): Value => create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(n) } });
const f64 = (n: number): Value => create(typesV1.ValueSchema, { val: { case: 'doubleVal', value: n } });
const str = (s: string): Value => create(typesV1.ValueSchema, { val: { case: 'stringVal', value: s } });
const nul = (): Value => create(typesV1.ValueSchema, { val: { case: 'nullVal', value: typesV1.Null.UNSPECIFIED } });

const MAX_ROWS = 1000;
const NOW = Date.now();

interface Answer {
  ok: boolean;
  code?: string;
  details?: string;
  bytes_b64?: string;
  dict?: Record<string, unknown>;
}

function runClient(python: string, input: unknown): Promise<Record<string, Answer>> {
  const script = path.resolve(__dirname, '..', 'test', 'feast_serving_client.py');
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out) as Record<string, Answer>) : reject(new Error(`feast_serving_client.py exited with ${code}: ${err.slice(-4000)}`)),
    );
    child.stdin.end(JSON.stringify(input));
  });
}

/** Feast's request in protobuf JSON: entity columns of int64 or string values. */
const int64s = (...n: number[]) => ({ val: n.map((v) => ({ int64Val: String(v) })) });
const strings = (...s: string[]) => ({ val: s.map((v) => ({ stringVal: v })) });
const doubles = (...d: number[]) => ({ val: d.map((v) => ({ doubleVal: v })) });

const byRefs = {
  features: { val: ['driver_stats:conv_rate', 'driver_stats:trips', 'customer_stats:segment', 'pair_stats:rides'] },
  entities: { driver_id: int64s(1, 2, 3), customer_id: strings('a', 'b', 'a') },
};
const byService = {
  featureService: 'model_v1',
  entities: { driver_id: int64s(1, 2), rider_id: strings('a', 'zz') },
  requestContext: { amount: doubles(2, 3) },
  fullFeatureNames: true,
};

describe('feast.serving.ServingService through the feast package stubs (redis, feast layout)', () => {
  let h: Harness;
  let answers: Record<string, Answer>;
  /** The same calls on serving.feastGrpcPort, a port of its own. */
  let onFeastPort: Record<string, Answer>;

  beforeAll(async () => {
    const python = await feastPython();
    h = await startHarness(
      { type: 'redis', url: testServices().redis.url, layout: 'feast' },
      { LARDER_SERVING_MAX_ENTITY_ROWS: String(MAX_ROWS), LARDER_FEAST_GRPC_PORT: '0', LARDER_FEAST_GRPC_HOST: '127.0.0.1' },
    );
    const driver = {
      project: h.project,
      name: 'driver_stats',
      joinKeys: ['driver_id'],
      features: [
        { name: 'conv_rate', type: T.DOUBLE },
        { name: 'trips', type: T.INT64 },
      ],
    };
    const customer = {
      project: h.project,
      name: 'customer_stats',
      joinKeys: ['customer_id'],
      features: [
        { name: 'lifetime_value', type: T.DOUBLE },
        { name: 'segment', type: T.STRING },
        { name: 'trips', type: T.INT64 },
      ],
    };
    const pair = { project: h.project, name: 'pair_stats', joinKeys: ['driver_id', 'customer_id'], features: [{ name: 'rides', type: T.INT64 }] };
    await h.store.write(driver, [
      { entityKey: { joinKeys: ['driver_id'], entityValues: [i64(1)] }, eventTs: NOW - 60_000, values: { conv_rate: f64(0.5), trips: i64(10) } },
      { entityKey: { joinKeys: ['driver_id'], entityValues: [i64(2)] }, eventTs: NOW - 2 * 3600_000, values: { conv_rate: nul(), trips: i64(3) } },
    ]);
    await h.store.write(customer, [
      {
        entityKey: { joinKeys: ['customer_id'], entityValues: [str('a')] },
        eventTs: NOW - 60_000,
        values: { lifetime_value: f64(100), segment: str('gold'), trips: i64(40) },
      },
    ]);
    await h.store.write(pair, [
      { entityKey: { joinKeys: ['customer_id', 'driver_id'], entityValues: [str('a'), i64(1)] }, eventTs: NOW - 60_000, values: { rides: i64(7) } },
    ]);

    const get = (name: string, request: unknown, extra: Record<string, unknown> = {}) => ({ name, method: 'get', request, ...extra });
    answers = await runClient(python, {
      address: h.servingAddress,
      calls: [
        { name: 'info', method: 'info' },
        get('refs', byRefs),
        get('service', byService),
        get('string for int64', { features: { val: ['driver_stats:trips'] }, entities: { driver_id: strings('1') } }),
        get('map entity', {
          features: { val: ['driver_stats:trips'] },
          entities: { driver_id: { val: [{ int64Val: '1' }, { mapVal: { val: { a: { int64Val: '1' } } } }] } },
        }),
        get('version metadata', { features: { val: ['driver_stats:trips'] }, entities: { driver_id: int64s(1) }, includeFeatureViewVersionMetadata: true }),
        get('unknown service', { featureService: 'nope', entities: { driver_id: int64s(1) } }),
        get('unknown view', { features: { val: ['nope:trips'] }, entities: { driver_id: int64s(1) } }),
        get('unknown feature', { features: { val: ['driver_stats:nope'] }, entities: { driver_id: int64s(1) } }),
        get('no kind', { entities: { driver_id: int64s(1) } }),
        get('too many rows', {
          features: { val: ['driver_stats:trips'] },
          entities: { driver_id: int64s(...Array.from({ length: MAX_ROWS + 1 }, (_, i) => i)) },
        }),
        get(
          'over the message limit',
          { features: { val: ['customer_stats:segment'] }, entities: { customer_id: strings() } },
          { big_string_entity: 17 * 1024 * 1024 },
        ),
        { name: 'garbage', method: 'raw', bytes_b64: Buffer.from([0x1a, 0xff, 0xff, 0xff, 0x0f, 0x01]).toString('base64') },
        get('after the attacks', byRefs),
      ],
    });
    onFeastPort = await runClient(python, {
      address: h.feastGrpcAddress,
      calls: [
        { name: 'info', method: 'info' },
        get('refs', byRefs),
        get('service', byService),
        get('unknown view', { features: { val: ['nope:trips'] }, entities: { driver_id: int64s(1) } }),
        { name: 'garbage', method: 'raw', bytes_b64: Buffer.from([0x1a, 0xff, 0xff, 0xff, 0x0f, 0x01]).toString('base64') },
        get('after the attacks', byRefs),
      ],
    });
  }, 20 * 60_000);

  afterAll(async () => {
    await h?.close();
  });

  /** What Larder's own contract answers for the same request, as bytes. */
  async function larderBytes(request: MessageInitShape<typeof servingV1.GetOnlineFeaturesRequestSchema>): Promise<string> {
    const res = await h.serving.getOnlineFeatures(request);
    return Buffer.from(toBinary(servingV1.GetOnlineFeaturesResponseSchema, res)).toString('base64');
  }

  const feastToLarder = (entities: Record<string, { val: Record<string, string | number>[] }>) => {
    const out: Record<string, { val: Value[] }> = {};
    for (const [name, column] of Object.entries(entities)) {
      out[name] = {
        val: column.val.map((v) =>
          'int64Val' in v ? i64(Number(v['int64Val'])) : 'stringVal' in v ? str(String(v['stringVal'])) : f64(Number(v['doubleVal'])),
        ),
      };
    }
    return out;
  };

  it('answers GetFeastServingInfo', () => {
    expect(answers['info']).toEqual({ ok: true, bytes_b64: expect.any(String), dict: { version: FEAST_SERVING_VERSION } });
  });

  it('answers feature refs with the bytes of Larder’s own contract, read by Feast’s classes', async () => {
    const a = answers['refs'] as Answer;
    expect(a.ok).toBe(true);
    const dict = a.dict as { metadata: { featureNames: { val: string[] } }; results: { values: Record<string, unknown>[]; statuses: string[] }[] };
    expect(dict.metadata.featureNames.val).toEqual(['driver_id', 'customer_id', 'conv_rate', 'trips', 'segment', 'rides']);
    expect(dict.results[2]).toMatchObject({ values: [{ doubleVal: 0.5 }, { nullVal: 'NULL' }, {}], statuses: ['PRESENT', 'NULL_VALUE', 'NOT_FOUND'] });
    expect(dict.results[3]).toMatchObject({ values: [{ int64Val: '10' }, { int64Val: '3' }, {}], statuses: ['PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND'] });
    expect(dict.results[4]).toMatchObject({ values: [{ stringVal: 'gold' }, {}, { stringVal: 'gold' }], statuses: ['PRESENT', 'NOT_FOUND', 'PRESENT'] });
    expect(dict.results[5]).toMatchObject({ values: [{ int64Val: '7' }, {}, {}], statuses: ['PRESENT', 'NOT_FOUND', 'NOT_FOUND'] });
    const larder = await larderBytes({ kind: { case: 'features', value: { val: byRefs.features.val } }, entities: feastToLarder(byRefs.entities) });
    expect(a.bytes_b64).toBe(larder);
  });

  it('answers a feature service (alias, join-key map, on-demand over request context) as Larder’s contract does', async () => {
    const a = answers['service'] as Answer;
    expect(a.ok).toBe(true);
    const dict = a.dict as { metadata: { featureNames: { val: string[] } }; results: { values: Record<string, unknown>[] }[] };
    expect(dict.metadata.featureNames.val).toEqual(['driver_id', 'rider_id', 'd__conv_rate', 'customer_stats__segment', 'adjusted__scaled']);
    // 0.5 x 2; rider 'zz' has no driver 2 conv_rate (a stored null), so the on-demand output is null.
    expect(dict.results[4]?.values).toEqual([{ doubleVal: 1 }, { nullVal: 'NULL' }]);
    const larder = await larderBytes({
      kind: { case: 'featureService', value: 'model_v1' },
      entities: feastToLarder(byService.entities),
      requestContext: feastToLarder(byService.requestContext),
      fullFeatureNames: true,
    });
    expect(a.bytes_b64).toBe(larder);
  });

  it.each([
    ['string for int64', 'INVALID_ARGUMENT', /entities\['driver_id'\]\[0\]: expected int64 \(int64_val\) but got string_val/],
    ['map entity', 'INVALID_ARGUMENT', /entities\.driver_id\[1\]: Feast's map_val is not a value type Larder serves/],
    ['version metadata', 'INVALID_ARGUMENT', /include_feature_view_version_metadata/],
    ['unknown service', 'NOT_FOUND', /nope/],
    ['unknown view', 'INVALID_ARGUMENT', /nope/],
    ['unknown feature', 'INVALID_ARGUMENT', /nope/],
    ['no kind', 'INVALID_ARGUMENT', /^kind: /],
    ['too many rows', 'INVALID_ARGUMENT', new RegExp(`${MAX_ROWS + 1} entity rows is more than the limit of ${MAX_ROWS}`)],
    ['over the message limit', 'RESOURCE_EXHAUSTED', /larger than max/i],
    ['garbage', 'INVALID_ARGUMENT', /.+/],
  ])('refuses %s with %s naming the problem', (name, code, details) => {
    const a = answers[name] as Answer;
    expect({ ok: a.ok, code: a.code }).toEqual({ ok: false, code });
    expect(a.details).toMatch(details);
  });

  it('keeps answering after the attacks', () => {
    expect(answers['after the attacks']?.bytes_b64).toBe(answers['refs']?.bytes_b64);
  });

  it('answers the same on serving.feastGrpcPort, its own port, attacks included', () => {
    expect(h.feastGrpcAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(h.feastGrpcAddress).not.toBe(h.servingAddress);
    for (const name of ['info', 'refs', 'service', 'after the attacks']) expect(onFeastPort[name]).toEqual(answers[name]);
    expect(onFeastPort['unknown view']).toEqual(answers['unknown view']);
    expect(onFeastPort['garbage']).toMatchObject({ ok: false, code: 'INVALID_ARGUMENT' });
  });

  it('serves the Larder contract on the Feast port too (one server, one set of services)', async () => {
    const larder = createClient(servingV1.OnlineServingService, h.feastGrpcAddress as string);
    try {
      const res = await larder.getOnlineFeatures({
        project: h.project,
        kind: { case: 'features', value: { val: ['driver_stats:trips'] } },
        entities: { driver_id: { val: [i64(1)] } },
      });
      expect(res.results[1]?.values[0]).toEqual(i64(10));
    } finally {
      larder.close();
    }
  });
});

test('serving.feastGrpcPort without serving.feastGrpc is a configuration error naming both keys', async () => {
  const lines: string[] = [];
  await expect(
    runInProcess(onlineServingService, { LARDER_FEAST_GRPC_PORT: '0', LARDER_SERVING_FEAST_GRPC: 'false', LARDER_REGISTRY_STARTUP_WAIT: '1ms' }, lines),
  ).rejects.toThrow(/exit 2/);
  expect(lines.join('\n')).toMatch(/serving\.feastGrpcPort: is 0 but serving\.feastGrpc is false/);
});
