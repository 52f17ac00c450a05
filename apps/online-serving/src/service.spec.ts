import { create } from '@bufbuild/protobuf';
import { typesV1 } from '@larder/proto';
import type { servingV1 } from '@larder/proto';
import { Client as GrpcClient, credentials } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { Code } from '@larder/rpc';
import { rpcRejection as failure, testServices, waitUntil } from '@larder/testing';
import { startHarness } from './testing';
import type { Harness, StoreUnderTest } from './testing';

const T = typesV1.ValueType;
type Value = typesV1.Value;

const i64 = (n: number | bigint): Value => create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(n) } });
const f64 = (n: number): Value => create(typesV1.ValueSchema, { val: { case: 'doubleVal', value: n } });
const str = (s: string): Value => create(typesV1.ValueSchema, { val: { case: 'stringVal', value: s } });
const nul = (): Value => create(typesV1.ValueSchema, { val: { case: 'nullVal', value: typesV1.Null.UNSPECIFIED } });
const col = (...values: Value[]) => ({ val: values });
const driverView = (project: string) => ({
  project,
  name: 'driver_stats',
  joinKeys: ['driver_id'],
  features: [
    { name: 'conv_rate', type: T.DOUBLE },
    { name: 'trips', type: T.INT64 },
  ],
});
const customerView = (project: string) => ({
  project,
  name: 'customer_stats',
  joinKeys: ['customer_id'],
  features: [
    { name: 'lifetime_value', type: T.DOUBLE },
    { name: 'segment', type: T.STRING },
    { name: 'trips', type: T.INT64 },
  ],
});
const pairView = (project: string) => ({ project, name: 'pair_stats', joinKeys: ['driver_id', 'customer_id'], features: [{ name: 'rides', type: T.INT64 }] });

const NOW = Date.now();
const FRESH = NOW - 60_000;
const STALE = NOW - 2 * 3600_000;

async function seed(h: Harness): Promise<void> {
  await h.store.write(driverView(h.project), [
    { entityKey: { joinKeys: ['driver_id'], entityValues: [i64(1)] }, eventTs: FRESH, values: { conv_rate: f64(0.5), trips: i64(10) } },
    { entityKey: { joinKeys: ['driver_id'], entityValues: [i64(2)] }, eventTs: STALE, values: { conv_rate: nul(), trips: i64(3) } },
  ]);
  await h.store.write(customerView(h.project), [
    {
      entityKey: { joinKeys: ['customer_id'], entityValues: [str('a')] },
      eventTs: FRESH,
      values: { lifetime_value: f64(100), segment: str('gold'), trips: i64(40) },
    },
  ]);
  await h.store.write(pairView(h.project), [
    { entityKey: { joinKeys: ['customer_id', 'driver_id'], entityValues: [str('a'), i64(1)] }, eventTs: FRESH, values: { rides: i64(7) } },
  ]);
}

/** The response as { name: [[value, status, ts ms], ...] } for readable assertions. */
function table(res: servingV1.GetOnlineFeaturesResponse): Record<string, [unknown, string, number][]> {
  const names = res.metadata?.featureNames?.val ?? [];
  const out: Record<string, [unknown, string, number][]> = {};
  names.forEach((name, i) => {
    const r = res.results[i] as servingV1.GetOnlineFeaturesResponse_FeatureVector;
    out[name] = r.values.map((v, row) => [
      v.val.case === undefined ? undefined : v.val.case === 'nullVal' ? null : v.val.value,
      typesV1.FieldStatus[r.statuses[row] as number] as string,
      Number(r.eventTimestamps[row]?.seconds ?? 0n) * 1000 + Math.floor((r.eventTimestamps[row]?.nanos ?? 0) / 1e6),
    ]);
  });
  return out;
}

async function postJson(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/get-online-features`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const backends: [string, () => StoreUnderTest][] = [
  ['sqlite', () => ({ type: 'sqlite' })],
  ['redis packed', () => ({ type: 'redis', url: testServices().redis.url, layout: 'packed' })],
  ['redis feast', () => ({ type: 'redis', url: testServices().redis.url, layout: 'feast' })],
];

describe.each(backends)('GetOnlineFeatures on %s', (_name, backend) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(backend());
    await seed(h);
  });
  afterAll(() => h?.close());

  it('answers every status with values and event timestamps, entity columns echoed first, composite keys', async () => {
    const res = await h.serving.getOnlineFeatures({
      project: h.project,
      kind: { case: 'features', value: { val: ['driver_stats:conv_rate', 'driver_stats:trips', 'pair_stats:rides', 'customer_stats:segment'] } },
      entities: { driver_id: col(i64(1), i64(2), i64(3)), customer_id: col(str('a'), str('a'), str('zz')) },
    });
    expect(table(res)).toEqual({
      driver_id: [
        [1n, 'PRESENT', 0],
        [2n, 'PRESENT', 0],
        [3n, 'PRESENT', 0],
      ],
      customer_id: [
        ['a', 'PRESENT', 0],
        ['a', 'PRESENT', 0],
        ['zz', 'PRESENT', 0],
      ],
      conv_rate: [
        [0.5, 'PRESENT', FRESH],
        [null, 'NULL_VALUE', STALE],
        [undefined, 'NOT_FOUND', 0],
      ],
      trips: [
        [10n, 'PRESENT', FRESH],
        [3n, 'OUTSIDE_MAX_AGE', STALE],
        [undefined, 'NOT_FOUND', 0],
      ],
      rides: [
        [7n, 'PRESENT', FRESH],
        [undefined, 'NOT_FOUND', 0],
        [undefined, 'NOT_FOUND', 0],
      ],
      segment: [
        ['gold', 'PRESENT', FRESH],
        ['gold', 'PRESENT', FRESH],
        [undefined, 'NOT_FOUND', 0],
      ],
    });
  });

  it('serves a feature service: alias, subset, join-key map, on-demand CEL over request context, full names', async () => {
    const res = await h.serving.getOnlineFeatures({
      project: h.project,
      kind: { case: 'featureService', value: 'model_v1' },
      fullFeatureNames: true,
      entities: { driver_id: col(i64(1), i64(3)), rider_id: col(str('a'), str('b')) },
      requestContext: { amount: col(f64(4), f64(5)) },
    });
    expect(table(res)).toEqual({
      driver_id: [
        [1n, 'PRESENT', 0],
        [3n, 'PRESENT', 0],
      ],
      rider_id: [
        ['a', 'PRESENT', 0],
        ['b', 'PRESENT', 0],
      ],
      d__conv_rate: [
        [0.5, 'PRESENT', FRESH],
        [undefined, 'NOT_FOUND', 0],
      ],
      customer_stats__segment: [
        ['gold', 'PRESENT', FRESH],
        [undefined, 'NOT_FOUND', 0],
      ],
      // A missing input is null in CEL, so the product is a null value.
      adjusted__scaled: [
        [2, 'PRESENT', FRESH],
        [null, 'NULL_VALUE', 0],
      ],
    });
  });

  it('answers Feast-shaped JSON on POST /get-online-features', async () => {
    const { status, body } = await postJson(h.httpUrl, {
      project: h.project,
      features: ['driver_stats:conv_rate', 'driver_stats:trips', 'adjusted:scaled'],
      entities: { driver_id: [1, 2], amount: [2, 3] },
      full_feature_names: false,
    });
    expect(status).toBe(200);
    const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
    expect(body).toEqual({
      metadata: { feature_names: ['driver_id', 'conv_rate', 'trips', 'scaled'] },
      results: [
        { values: [1, 2], statuses: ['PRESENT', 'PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z'] },
        { values: [0.5, null], statuses: ['PRESENT', 'NULL_VALUE'], event_timestamps: [iso(FRESH), iso(STALE)] },
        { values: [10, 3], statuses: ['PRESENT', 'OUTSIDE_MAX_AGE'], event_timestamps: [iso(FRESH), iso(STALE)] },
        { values: [1, null], statuses: ['PRESENT', 'NULL_VALUE'], event_timestamps: [iso(FRESH), iso(STALE)] },
      ],
    });
    const svc = await postJson(h.httpUrl, {
      project: h.project,
      feature_service: 'model_v1',
      entities: { driver_id: [1], rider_id: ['a'] },
      request_context: { amount: [1.5] },
    });
    expect(svc.status).toBe(200);
    expect(svc.body['metadata']).toEqual({ feature_names: ['driver_id', 'rider_id', 'conv_rate', 'segment', 'scaled'] });
  });
});

describe('GetOnlineFeatures errors and registry changes (sqlite)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ type: 'sqlite' }, { LARDER_SERVING_MAX_ENTITY_ROWS: '5' });
    await seed(h);
  });
  afterAll(() => h?.close());

  const base = () => ({
    project: h.project,
    kind: { case: 'features' as const, value: { val: ['driver_stats:conv_rate'] } },
    entities: { driver_id: col(i64(1)) },
  });

  it('rejects bad requests with INVALID_ARGUMENT or NOT_FOUND naming the problem', async () => {
    const cases: [Partial<servingV1.GetOnlineFeaturesRequest> | Record<string, unknown>, Code, RegExp][] = [
      [{ kind: { case: 'features', value: { val: ['driver_stats:nope'] } } }, Code.INVALID_ARGUMENT, /features\[0\] 'driver_stats:nope'.*no feature 'nope'/],
      [
        { kind: { case: 'features', value: { val: ['driver_stat:conv_rate'] } } },
        Code.INVALID_ARGUMENT,
        /'driver_stat' is not defined.*did you mean 'driver_stats'/,
      ],
      [{ kind: { case: 'features', value: { val: ['conv_rate'] } } }, Code.INVALID_ARGUMENT, /expected 'view:feature'/],
      [
        {
          kind: { case: 'features', value: { val: ['driver_stats:trips', 'customer_stats:trips'] } },
          entities: { driver_id: col(i64(1)), customer_id: col(str('a')) },
        },
        Code.INVALID_ARGUMENT,
        /would both be named 'trips'/,
      ],
      [{ kind: { case: 'featureService', value: 'model_v2' } }, Code.NOT_FOUND, /feature service 'model_v2' is not defined/],
      [{ kind: { case: undefined } }, Code.INVALID_ARGUMENT, /set either features .* or feature_service/],
      [{ project: 'nope' }, Code.NOT_FOUND, /project 'nope' is not in the registry/],
      [
        { entities: { customer_id: col(str('a')) } },
        Code.INVALID_ARGUMENT,
        /missing join key column 'driver_id' \(int64\), needed by feature view 'driver_stats'/,
      ],
      [{ entities: {} }, Code.INVALID_ARGUMENT, /no entity rows/],
      [{ entities: { driver_id: col() } }, Code.INVALID_ARGUMENT, /no entity rows/],
      [
        { entities: { driver_id: col(i64(1), i64(2)), customer_id: col(str('a')) } },
        Code.INVALID_ARGUMENT,
        /unequal length: entities\['driver_id'\] has 2 values but entities\['customer_id'\] has 1/,
      ],
      [
        { entities: { driver_id: col(i64(1), str('2')) } },
        Code.INVALID_ARGUMENT,
        /entities\['driver_id'\]\[1\]: expected int64 \(int64_val\) but got string_val/,
      ],
      [{ entities: { driver_id: col(...[1, 2, 3, 4, 5, 6].map(i64)) } }, Code.INVALID_ARGUMENT, /6 entity rows is more than the limit of 5/],
      [{ kind: { case: 'features', value: { val: ['adjusted:scaled'] } } }, Code.INVALID_ARGUMENT, /request_context: missing field 'amount' \(double\)/],
      [
        { kind: { case: 'features', value: { val: ['adjusted:scaled'] } }, requestContext: { amount: col(str('x')) } },
        Code.INVALID_ARGUMENT,
        /request_context\['amount'\]\[0\]: expected double/,
      ],
    ];
    const problems: string[] = [];
    for (const [patch, code, message] of cases) {
      const e = await failure(h.serving.getOnlineFeatures({ ...base(), ...patch } as servingV1.GetOnlineFeaturesRequest));
      if (e.code !== code || !message.test(e.message))
        problems.push(`${JSON.stringify(patch, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}: got ${Code[e.code]} ${e.message}`);
    }
    expect(problems).toEqual([]);
  });

  it('maps errors to HTTP statuses with JSON bodies', async () => {
    const cases: [unknown, number, string, RegExp][] = [
      [{ project: h.project, features: ['driver_stats:nope'], entities: { driver_id: [1] } }, 400, 'INVALID_ARGUMENT', /no feature 'nope'/],
      [{ project: h.project, feature_service: 'nope', entities: { driver_id: [1] } }, 404, 'NOT_FOUND', /feature service 'nope'/],
      [
        { project: h.project, features: ['driver_stats:conv_rate'], entities: { driver_id: ['x'] } },
        400,
        'INVALID_ARGUMENT',
        /entities\['driver_id'\]\[0\]: expected int64 but got "x"/,
      ],
      ['{not json', 400, 'INVALID_ARGUMENT', /not valid JSON/],
    ];
    for (const [body, status, code, message] of cases) {
      const res = await postJson(h.httpUrl, body);
      expect([res.status, res.body['code']]).toEqual([status, code]);
      expect(String(res.body['message'])).toMatch(message);
    }
  });

  it('answers a missing join key with the same message over HTTP as over gRPC', async () => {
    const grpc = await failure(h.serving.getOnlineFeatures({ ...base(), entities: { customer_id: col(str('a'), str('b')) } }));
    expect(grpc.message).toMatch(/missing join key column 'driver_id' \(int64\), needed by feature view 'driver_stats'; given: customer_id$/);
    const http = await postJson(h.httpUrl, { project: h.project, features: ['driver_stats:conv_rate'], entities: { customer_id: ['a', 'b'] } });
    expect([http.status, http.body['code'], http.body['message']]).toEqual([400, 'INVALID_ARGUMENT', grpc.message]);
    // Rows of unequal length are caught the same way too, whichever column the plan knows.
    const uneven = await postJson(h.httpUrl, { project: h.project, features: ['driver_stats:conv_rate'], entities: { driver_id: [1, 2], customer_id: ['a'] } });
    const unevenGrpc = await failure(h.serving.getOnlineFeatures({ ...base(), entities: { driver_id: col(i64(1), i64(2)), customer_id: col(str('a')) } }));
    expect(uneven.body['message']).toBe(unevenGrpc.message);
  });

  it('reads a join key beyond 2^53 sent as a JSON number exactly, not rounded to a neighbour', async () => {
    const big = 9007199254740993n;
    await h.store.write(driverView(h.project), [
      { entityKey: { joinKeys: ['driver_id'], entityValues: [i64(big)] }, eventTs: FRESH, values: { conv_rate: f64(0.25), trips: i64(9) } },
      { entityKey: { joinKeys: ['driver_id'], entityValues: [i64(big - 1n)] }, eventTs: FRESH, values: { conv_rate: f64(0.5), trips: i64(8) } },
    ]);
    const res = await fetch(`${h.httpUrl}/get-online-features`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"project": "${h.project}", "features": ["driver_stats:trips"], "entities": {"driver_id": [${big}]}}`,
    });
    const body = (await res.json()) as { results: { values: unknown[] }[] };
    expect([res.status, body.results[0]?.values, body.results[1]?.values]).toEqual([200, ['9007199254740993'], [9]]);
    // A big integer where a list or a string belongs is a 400 naming it, not an internal error.
    for (const [entities, message] of [
      [`{"driver_id": [[${big}]], "rider_id": ["a"]}`, "entities['driver_id'][0]: expected int64 but got [9007199254740993]"],
      [`{"driver_id": [1], "rider_id": [${big}]}`, "entities['rider_id'][0]: expected string but got 9007199254740993"],
    ] as const) {
      const bad = await fetch(`${h.httpUrl}/get-online-features`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"project": "${h.project}", "feature_service": "model_v1", "entities": ${entities}, "request_context": {"amount": [1.5]}}`,
      });
      expect([bad.status, ((await bad.json()) as { message: string }).message]).toEqual([400, message]);
    }
  });

  it('an id beyond int64 is a 400 naming it over HTTP, not a 500', async () => {
    for (const id of ['"18446744073709551616"', '18446744073709551616', '-9223372036854775809']) {
      const res = await fetch(`${h.httpUrl}/get-online-features`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"project": "${h.project}", "features": ["driver_stats:trips"], "entities": {"driver_id": [${id}]}}`,
      });
      expect([res.status, ((await res.json()) as { message: string }).message]).toEqual([400, `entities['driver_id'][0]: expected int64 but got ${id}`]);
    }
  });

  it('an error echoing a 100k-character feature name reaches the client at once, INVALID_ARGUMENT cut to 4 KiB', async () => {
    const name = `driver_stats:${'x'.repeat(100_000)}`;
    const started = Date.now();
    const error = await failure(h.serving.getOnlineFeatures({ ...base(), kind: { case: 'features', value: { val: [name] } } }, { timeoutMs: 10_000 }));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.message).toMatch(/xxxx ... \[message truncated: \d+ bytes in all\]$/);
    expect(Buffer.byteLength(error.message)).toBeLessThanOrEqual(4096);
  });

  it('request bytes that do not decode are INVALID_ARGUMENT naming the message type, not INTERNAL', async () => {
    const raw = new GrpcClient(h.servingAddress, credentials.createInsecure());
    try {
      const error = await new Promise<ServiceError>((resolve, reject) => {
        raw.makeUnaryRequest(
          '/larder.serving.v1.OnlineServingService/GetOnlineFeatures',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0x0a, 0xff, 0x01]),
          (e) => (e ? resolve(e) : reject(new Error('expected the call to fail'))),
        );
      });
      expect([error.code, error.details]).toEqual([
        Code.INVALID_ARGUMENT,
        expect.stringMatching(/^request is not a valid larder\.serving\.v1\.GetOnlineFeaturesRequest message: /),
      ]);
    } finally {
      raw.close();
    }
  });

  it('picks up a registry change without a restart', async () => {
    const request = {
      project: h.project,
      kind: { case: 'features' as const, value: { val: ['driver_stats:acc_rate'] } },
      entities: { driver_id: col(i64(1)) },
    };
    expect((await failure(h.serving.getOnlineFeatures(request))).code).toBe(Code.INVALID_ARGUMENT);
    const repo = (await import('./testing')).driverRepo(h.project);
    const views = repo.featureViews.map((v) =>
      v.name === 'driver_stats' ? { ...v, schema: [...v.schema, { ...(v.schema[0] as (typeof v.schema)[number]), name: 'acc_rate' }] } : v,
    );
    await h.apply({ featureViews: views as typeof repo.featureViews });
    await h.store.write({ ...driverView(h.project), features: [...driverView(h.project).features, { name: 'acc_rate', type: T.DOUBLE }] }, [
      { entityKey: { joinKeys: ['driver_id'], entityValues: [i64(1)] }, eventTs: NOW, values: { conv_rate: f64(0.7), trips: i64(1), acc_rate: f64(0.9) } },
    ]);
    // The service sees the apply through its registry copy's change stream: until then the ref is unknown.
    let res: servingV1.GetOnlineFeaturesResponse | undefined;
    await waitUntil(async () => (res = await h.serving.getOnlineFeatures(request)) !== undefined, {
      what: 'the applied acc_rate servable',
      timeoutMs: 5_000,
      intervalMs: 20,
    });
    expect(table(res as servingV1.GetOnlineFeaturesResponse)['acc_rate']).toEqual([[0.9, 'PRESENT', NOW]]);
  });
});
