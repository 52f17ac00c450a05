import { create } from '@bufbuild/protobuf';
import { typesV1 } from '@larder/proto';
import type { registryV1 } from '@larder/proto';
import { testServices } from '@larder/testing';
import { schemaFromText } from '@larder/validation';
import { driverRepo, startHarness } from './testing';
import type { Harness } from './testing';

jest.setTimeout(60_000);

// Served values of views with a TFDV schema, counted per feature and reason on real
// Redis and read back from /metrics: planted out of domain, missing (nothing stored
// and a stored null) and stale (older than the ttl) values.
const T = typesV1.ValueType;
type Value = typesV1.Value;
const i64 = (n: number): Value => create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(n) } });
const f64 = (n: number): Value => create(typesV1.ValueSchema, { val: { case: 'doubleVal', value: n } });
const str = (s: string): Value => create(typesV1.ValueSchema, { val: { case: 'stringVal', value: s } });
const nul = (): Value => create(typesV1.ValueSchema, { val: { case: 'nullVal', value: typesV1.Null.UNSPECIFIED } });

const DRIVER_SCHEMA = `
feature { name: "conv_rate" type: FLOAT float_domain { min: 0 max: 1 } }
feature { name: "trips" type: INT int_domain { min: 0 max: 100 } }
`;
const CUSTOMER_SCHEMA = `
feature { name: "segment" type: BYTES domain: "segments" }
string_domain { name: "segments" value: "gold" value: "silver" }
`;

/** The harness's repo with TFDV schemas on driver_stats and customer_stats; pair_stats has none. */
function withSchemas(project: string, driverSchema: string): Partial<registryV1.ApplyRegistryRequest> {
  const repo = driverRepo(project);
  const schemas: Record<string, string> = { driver_stats: driverSchema, customer_stats: CUSTOMER_SCHEMA };
  const featureViews = repo.featureViews.map((view) => {
    const text = schemas[view.name];
    return text === undefined
      ? view
      : {
          ...view,
          validation: {
            $typeName: 'larder.registry.v1.FeatureViewValidation',
            schema: schemaFromText(text),
            ingestion: 0,
            materialization: 0,
          } as registryV1.FeatureViewValidation,
        };
  });
  return { featureViews } as Partial<registryV1.ApplyRegistryRequest>;
}

/** `feature_view/feature/reason` -> value of this project's serving counters, as /metrics prints them. */
async function scrape(h: Harness): Promise<Map<string, number>> {
  const text = await (await fetch(`${h.metricsUrl}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^larder_serving_feature_(values|anomalies)_total\{([^}]*)\} (\S+)$/.exec(line);
    if (m === null) continue;
    const labels = Object.fromEntries([...(m[2] as string).matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (labels['project'] !== h.project) continue;
    out.set(`${labels['feature_view']}/${labels['feature']}/${labels['reason'] ?? 'served'}`, Number(m[3]));
  }
  return out;
}

const NOW = Date.now();
const FRESH = NOW - 60_000;
const STALE = NOW - 2 * 3600_000; // driver_stats' ttl is one hour

describe('serving value counters (redis packed)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(
      { type: 'redis', url: testServices().redis.url, layout: 'packed' },
      { LARDER_METRICS_ENABLED: 'true', LARDER_METRICS_HOST: '127.0.0.1', LARDER_METRICS_PORT: '0' },
    );
    await h.apply(withSchemas(h.project, DRIVER_SCHEMA));
    const key = (id: number) => ({ joinKeys: ['driver_id'], entityValues: [i64(id)] });
    await h.store.write(
      {
        project: h.project,
        name: 'driver_stats',
        joinKeys: ['driver_id'],
        features: [
          { name: 'conv_rate', type: T.DOUBLE },
          { name: 'trips', type: T.INT64 },
        ],
      },
      [
        { entityKey: key(1), eventTs: FRESH, values: { conv_rate: f64(1.5), trips: i64(10) } },
        { entityKey: key(2), eventTs: STALE, values: { conv_rate: f64(0.5), trips: i64(500) } },
        { entityKey: key(3), eventTs: FRESH, values: { conv_rate: nul(), trips: i64(5) } },
      ],
    );
    const customer = (id: string) => ({ joinKeys: ['customer_id'], entityValues: [str(id)] });
    await h.store.write(
      {
        project: h.project,
        name: 'customer_stats',
        joinKeys: ['customer_id'],
        features: [
          { name: 'lifetime_value', type: T.DOUBLE },
          { name: 'segment', type: T.STRING },
          { name: 'trips', type: T.INT64 },
        ],
      },
      [
        { entityKey: customer('a'), eventTs: FRESH, values: { lifetime_value: f64(-5), segment: str('gold'), trips: i64(1) } },
        { entityKey: customer('b'), eventTs: FRESH, values: { lifetime_value: f64(1), segment: str('platinum'), trips: i64(2) } },
      ],
    );
  });
  afterAll(async () => h?.close());

  const request = (project: string) => ({
    project,
    kind: {
      case: 'features' as const,
      value: { val: ['driver_stats:conv_rate', 'driver_stats:trips', 'customer_stats:segment', 'customer_stats:lifetime_value', 'pair_stats:rides'] },
    },
    fullFeatureNames: true,
    entities: {
      driver_id: { val: [i64(1), i64(2), i64(3), i64(4)] },
      customer_id: { val: [str('a'), str('b'), str('a'), str('c')] },
    },
  });

  it('counts out-of-domain, missing and stale values per feature; views without a schema have no series', async () => {
    await h.serving.getOnlineFeatures(request(h.project));
    const once = new Map([
      // driver 1: 1.5 > max 1; driver 2: stale; driver 3: a stored null; driver 4: nothing stored.
      ['driver_stats/conv_rate/served', 4],
      ['driver_stats/conv_rate/out_of_domain', 1],
      ['driver_stats/conv_rate/missing', 2],
      ['driver_stats/conv_rate/stale', 1],
      // driver 2: 500 > max 100 and stale.
      ['driver_stats/trips/served', 4],
      ['driver_stats/trips/out_of_domain', 1],
      ['driver_stats/trips/missing', 1],
      ['driver_stats/trips/stale', 1],
      // customer b: 'platinum' is not in the domain; customer c: nothing stored; no ttl, never stale.
      ['customer_stats/segment/served', 4],
      ['customer_stats/segment/out_of_domain', 1],
      ['customer_stats/segment/missing', 1],
      ['customer_stats/segment/stale', 0],
    ]);
    // lifetime_value (not in the view's schema) and pair_stats (no schema) have no series.
    expect(await scrape(h)).toEqual(once);

    // The HTTP gateway serves through the same path and adds to the same counts.
    const res = await fetch(`${h.httpUrl}/get-online-features`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ project: h.project, features: ['driver_stats:conv_rate'], entities: { driver_id: [1, 2] } }),
    });
    expect(res.status).toBe(200);
    const after = await scrape(h);
    expect(after.get('driver_stats/conv_rate/served')).toBe(6);
    expect(after.get('driver_stats/conv_rate/out_of_domain')).toBe(2);
    expect(after.get('driver_stats/conv_rate/stale')).toBe(2);
    expect(after.get('driver_stats/trips/served')).toBe(4);
  });

  it('recompiles the checks at a new registry version and keeps the counts', async () => {
    // Widen conv_rate's domain (1.5 is now inside it) and drop trips from the schema.
    await h.apply(withSchemas(h.project, 'feature { name: "conv_rate" type: FLOAT float_domain { min: 0 max: 2 } }'));
    // Serving follows the registry's change stream: the new version is in force once trips stops counting.
    const tripsOnly = {
      project: h.project,
      kind: { case: 'features' as const, value: { val: ['driver_stats:trips'] } },
      entities: { driver_id: { val: [i64(1)] } },
    };
    const deadline = Date.now() + 10_000;
    for (;;) {
      const served = (await scrape(h)).get('driver_stats/trips/served');
      await h.serving.getOnlineFeatures(tripsOnly);
      if ((await scrape(h)).get('driver_stats/trips/served') === served) break;
      if (Date.now() > deadline) throw new Error('serving did not take the new registry version');
    }
    const before = await scrape(h);
    await h.serving.getOnlineFeatures(request(h.project));
    const after = await scrape(h);
    const delta = (key: string) => (after.get(key) as number) - (before.get(key) as number);
    // Same arrays as before the apply (counts kept), new checks: nothing out of domain now.
    expect(before.get('driver_stats/conv_rate/served')).toBe(6);
    expect([
      delta('driver_stats/conv_rate/served'),
      delta('driver_stats/conv_rate/out_of_domain'),
      delta('driver_stats/conv_rate/missing'),
      delta('driver_stats/conv_rate/stale'),
    ]).toEqual([4, 0, 2, 1]);
    // A feature dropped from the schema keeps its series (counters never go back) and stops counting.
    expect(delta('driver_stats/trips/served')).toBe(0);
    expect(delta('customer_stats/segment/out_of_domain')).toBe(1);
  });
});

describe('serving value counters off', () => {
  it('LARDER_SERVING_VALUE_METRICS=false serves without series', async () => {
    const h = await startHarness(
      { type: 'redis', url: testServices().redis.url, layout: 'packed' },
      { LARDER_METRICS_ENABLED: 'true', LARDER_METRICS_HOST: '127.0.0.1', LARDER_METRICS_PORT: '0', LARDER_SERVING_VALUE_METRICS: 'false' },
    );
    try {
      await h.apply(withSchemas(h.project, DRIVER_SCHEMA));
      const res = await h.serving.getOnlineFeatures({
        project: h.project,
        kind: { case: 'features', value: { val: ['driver_stats:conv_rate'] } },
        entities: { driver_id: { val: [i64(1)] } },
      });
      expect(res.results[1]?.statuses).toEqual([typesV1.FieldStatus.NOT_FOUND]);
      const text = await (await fetch(`${h.metricsUrl}/metrics`)).text();
      expect(text).toContain('grpc_server_handled_total');
      expect(text).not.toContain('larder_serving_feature_');
    } finally {
      await h.close();
    }
  });
});
