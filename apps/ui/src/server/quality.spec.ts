// The data-quality API against the real registry and offline-retrieval services: two
// days of a view computed through the StatisticsService, the second with planted
// anomalies (an int above its domain, a string outside its domain that also drifts);
// the route's histogram, top values, missing share, domains, anomalies and timeline
// come from them; the home page lists the view; and a hostile client is refused.
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { DuckDBInstance } from '@duckdb/node-api';
import { registryV1, statisticsV1, tfmdV0, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import { startLarderApp } from '@larder/testing';
import type { RunningLarderApp } from '@larder/testing';
import { schemaFromText } from '@larder/validation';
import type { Overview } from '../shared/api';
import type { DataQuality } from '../shared/quality-api';
import { buildUi } from '../build';
import { startUiServer } from './ui-server';
import type { UiServer } from './ui-server';

jest.setTimeout(120_000);

const work = mkdtempSync(path.join(os.tmpdir(), 'larder-ui-quality-'));
const DAY = 86_400_000;
const DAY1 = Date.UTC(2024, 0, 1);
const DAY2 = DAY1 + DAY;
let registry: RunningLarderApp;
let retrieval: RunningLarderApp;
let ui: UiServer;
/** A UI whose offline-retrieval address answers nothing. */
let blind: UiServer;
const ids: { day1: string; day2: string } = { day1: '', day2: '' };
let day2Record: statisticsV1.StatisticsRecord;

beforeAll(async () => {
  // Day 1: trips 0..9, conv_rate always present, red and blue half each.
  // Day 2: trips 1 for 90 rows and 500 (above the domain's 100) for 10; conv_rate missing
  // in every fifth row; red 60, blue 30 and purple (outside the domain) 10.
  const duck = await DuckDBInstance.create(':memory:');
  const connection = await duck.connect();
  await connection.run(`SET TimeZone = 'UTC'`);
  await connection.run(`COPY (
      SELECT (1000 + i)::BIGINT AS driver_id, TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_minutes(i) AS event_ts,
             (i % 10)::BIGINT AS trips, (i / 100.0)::DOUBLE AS conv_rate, CASE WHEN i % 2 = 0 THEN 'red' ELSE 'blue' END AS color
      FROM range(100) r(i)
      UNION ALL
      SELECT (1000 + i)::BIGINT, TIMESTAMPTZ '2024-01-02 00:00:00+00' + to_minutes(i),
             CASE WHEN i < 90 THEN 1 ELSE 500 END::BIGINT, CASE WHEN i % 5 = 0 THEN NULL ELSE 0.5 END::DOUBLE,
             CASE WHEN i < 60 THEN 'red' WHEN i < 90 THEN 'blue' ELSE 'purple' END
      FROM range(100) r(i)
    ) TO '${work}/drivers.parquet' (FORMAT parquet)`);
  connection.closeSync();
  duck.closeSync();

  registry = await startLarderApp({ app: 'registry', env: { LARDER_REGISTRY_LOCATION: path.join(work, 'registry.json'), LARDER_METRICS_ENABLED: 'false' } });
  const client = createClient(registryV1.RegistryService, registry.address);
  try {
    await client.applyRegistry({
      project: 'rides',
      entities: [{ name: 'driver', joinKey: 'driver_id', valueType: typesV1.ValueType.INT64 }],
      dataSources: [{ name: 'driver_src', timestampField: 'event_ts', kind: { case: 'file', value: { path: path.join(work, 'drivers.parquet') } } }],
      featureViews: [
        {
          name: 'driver_stats',
          entities: ['driver'],
          batchSource: 'driver_src',
          schema: [
            { name: 'trips', valueType: typesV1.ValueType.INT64 },
            { name: 'conv_rate', valueType: typesV1.ValueType.DOUBLE },
            { name: 'color', valueType: typesV1.ValueType.STRING },
          ],
          validation: {
            schema: schemaFromText(`feature { name: "trips" type: INT int_domain { min: 0 max: 100 } }
feature { name: "conv_rate" type: FLOAT presence { min_fraction: 0.5 } }
feature { name: "color" type: BYTES string_domain { name: "colors" value: "red" value: "blue" } drift_comparator { infinity_norm { threshold: 0.05 } } }`),
          },
        },
      ],
    });
  } finally {
    client.close();
  }
  retrieval = await startLarderApp({
    app: 'offline-retrieval',
    env: { LARDER_REGISTRY_ADDRESS: registry.address, LARDER_METRICS_ENABLED: 'false', LARDER_OFFLINE_READ_ROOTS: work, LARDER_OFFLINE_WRITE_ROOT: work },
  });
  const stats = createClient(statisticsV1.StatisticsService, retrieval.address);
  try {
    const compute = async (start: number) =>
      (
        await stats.computeStatistics({
          scope: {
            project: 'rides',
            kind: {
              case: 'featureView',
              value: { featureView: 'driver_stats', eventTime: { start: timestampFromMs(start), end: timestampFromMs(start + DAY) } },
            },
          },
        })
      ).record!;
    ids.day1 = (await compute(DAY1)).id;
    day2Record = await compute(DAY2);
    ids.day2 = day2Record.id;
  } finally {
    stats.close();
  }

  const dist = path.join(work, 'dist');
  await buildUi(dist);
  const env = {
    LARDER_UI_PORT: '0',
    LARDER_UI_DIST: dist,
    LARDER_REGISTRY_ADDRESS: registry.address,
    LARDER_MATERIALIZATION_ADDRESS: '',
    LARDER_INGESTION_ADDRESS: '',
    LARDER_LOG_LEVEL: 'error',
  };
  [ui, blind] = await Promise.all([
    startUiServer({ env: { ...env, LARDER_OFFLINE_RETRIEVAL_ADDRESS: retrieval.address } }),
    // Nothing listens on port 1.
    startUiServer({ env: { ...env, LARDER_OFFLINE_RETRIEVAL_ADDRESS: '127.0.0.1:1' } }),
  ]);
});

afterAll(async () => {
  await Promise.all([ui?.close(), blind?.close()]);
  await retrieval?.stop();
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

function get(server: UiServer, rawPath: string): Promise<{ status: number; type: string; text: string }> {
  const url = new URL(server.listening.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method: 'GET', path: rawPath }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function json<T>(server: UiServer, rawPath: string): Promise<{ status: number; body: T }> {
  const r = await get(server, rawPath);
  return { status: r.status, body: JSON.parse(r.text) as T };
}

test("the newest span's histogram, top values, missing share, domains and planted anomalies", async () => {
  const { status, body } = await json<DataQuality>(ui, '/api/quality/rides/driver_stats');
  expect(status).toBe(200);
  expect(body.problems).toEqual([]);
  expect(body.hasSchema).toBe(true);
  expect(body.current).toMatchObject({
    id: ids.day2,
    kind: 'event-time',
    start: '2024-01-02T00:00:00.000Z',
    end: '2024-01-03T00:00:00.000Z',
    rows: '100',
    engine: 'duckdb',
  });
  expect(body.previous?.id).toBe(ids.day1);
  expect(body.records.map((r) => r.id)).toEqual([ids.day2, ids.day1]);
  const byName = new Map(body.features.map((f) => [f.name, f]));
  expect([...byName.keys()].sort()).toEqual(['color', 'conv_rate', 'trips']);

  // trips: the stored equal-width histogram, spanning the data's 1..500, most of it in
  // the first bucket (90 of 100 rows are 1).
  const trips = byName.get('trips')!;
  const stored = day2Record.statistics!.datasets[0]!.features.find((f) => f.fieldId.value === 'trips')!;
  if (stored.stats.case !== 'numStats') throw new Error('trips: numeric statistics expected');
  const standard = stored.stats.value.histograms.find((h) => h.type === tfmdV0.Histogram_HistogramType.STANDARD)!;
  expect(trips.numeric!.histogram).toEqual(standard.buckets.map((b) => ({ low: b.lowValue, high: b.highValue, count: b.sampleCount })));
  expect(trips.numeric!.histogram).toHaveLength(10);
  expect(trips.numeric!.histogram[0]!.low).toBe(1);
  expect(trips.numeric!.histogram.at(-1)!.high).toBe(500);
  expect(trips.numeric!.histogram.reduce((n, b) => n + b.count, 0)).toBeCloseTo(100, 6);
  expect(trips.numeric!.histogram[0]!.count).toBeGreaterThanOrEqual(85);
  expect(trips.numeric!.histogram.at(-1)!.count).toBeGreaterThan(0);
  expect([trips.numeric!.min, trips.numeric!.max]).toEqual([1, 500]);
  expect(trips.numeric!.mean).toBeCloseTo(50.9, 9);
  expect(trips.expectations?.domain).toEqual({ kind: 'int', min: 0, max: 100 });
  expect(trips.anomalies.map((a) => a.type)).toEqual(['INT_TYPE_BIG_INT']);
  expect(trips.anomalies[0]!.description).toContain('500');

  // color: top values exactly as counted, the domain, values outside it, and drift from day 1.
  const color = byName.get('color')!;
  expect(color.string!.topValues).toEqual([
    { value: 'red', count: 60 },
    { value: 'blue', count: 30 },
    { value: 'purple', count: 10 },
  ]);
  expect(color.expectations?.domain).toEqual({ kind: 'string', name: 'colors', values: ['red', 'blue'], more: 0 });
  expect(color.anomalies.map((a) => a.type).sort()).toEqual(['COMPARATOR_L_INFTY_HIGH', 'ENUM_TYPE_UNEXPECTED_STRING_VALUES']);
  // red 0.5 -> 0.6, blue 0.5 -> 0.3, purple 0 -> 0.1: blue moved most.
  expect(color.drift).toMatchObject({ measure: 'L_INFTY', threshold: 0.05, moved: 'blue' });
  expect(color.drift!.value).toBeCloseTo(0.2, 9);

  // conv_rate: 20 of 100 missing, within its presence constraint.
  const conv = byName.get('conv_rate')!;
  expect([conv.missing, conv.present, conv.missingPct]).toEqual(['20', '80', 20]);
  expect(conv.expectations?.presence).toEqual({ minFraction: 0.5 });
  expect(conv.anomalies).toEqual([]);

  // Over time: day 1 clean, day 2 with two features in error.
  expect(body.timeline.map((s) => [s.id, s.anomalies])).toEqual([
    [ids.day1, 0],
    [ids.day2, 2],
  ]);
  expect(conv.timeline.map((p) => p.missingPct)).toEqual([0, 20]);
  expect(color.timeline[0]!.drift).toBeUndefined();
  expect(color.timeline[1]!.drift).toBeCloseTo(0.2, 9);
  expect(trips.timeline.map((p) => p.anomalies)).toEqual([0, 1]);
});

test('an older span by its record id; the home page lists the view with anomalies, linking to its page', async () => {
  const { status, body } = await json<DataQuality>(ui, `/api/quality/rides/driver_stats?record=${ids.day1}`);
  expect(status).toBe(200);
  expect(body.current?.id).toBe(ids.day1);
  expect(body.previous).toBeUndefined();
  expect(body.features.flatMap((f) => f.anomalies)).toEqual([]);
  expect(body.features.find((f) => f.name === 'color')!.string!.topValues.map((v) => v.count)).toEqual([50, 50]);

  const overview = await json<Overview>(ui, '/api/overview');
  expect(overview.body.attention).toEqual(
    expect.arrayContaining([
      {
        kind: 'validation-anomaly',
        project: 'rides',
        object: { kind: 'feature-view', name: 'driver_stats' },
        href: '/quality/rides/driver_stats',
        message: 'driver_stats: 2 anomalies in its newest statistics (color, trips)',
      },
    ]),
  );
  const page = await get(ui, '/quality/rides/driver_stats');
  expect([page.status, page.type]).toEqual([200, 'text/html; charset=utf-8']);
});

test('without an answer from offline retrieval, the page still shows the schema and says what is missing', async () => {
  const { status, body } = await json<DataQuality>(blind, '/api/quality/rides/driver_stats');
  expect(status).toBe(200);
  expect(body.problems).toEqual([{ service: 'offline-retrieval', message: expect.any(String) }]);
  expect(body.current).toBeUndefined();
  expect(body.features.map((f) => [f.name, f.expectations?.domain?.kind])).toEqual([
    ['trips', 'int'],
    ['conv_rate', undefined],
    ['color', 'string'],
  ]);
  const overview = await json<Overview>(blind, '/api/overview');
  expect(overview.status).toBe(200);
  expect(overview.body.problems.map((p) => p.service)).toEqual(['offline-retrieval']);
});

test('hostile client: names, record ids and parameters are checked before any call; unknown things are 404', async () => {
  const refused: [string, string][] = [
    ['/api/quality/rides/..%2f..%2fetc', 'view'],
    ['/api/quality/%00/driver_stats', 'project'],
    [`/api/quality/rides/${'v'.repeat(200)}`, 'view'],
    ['/api/quality/rides/driver_stats?record=..%2F..%2Fetc%2Fpasswd', 'record'],
    [`/api/quality/rides/driver_stats?record=${'a'.repeat(65)}`, 'record'],
    ['/api/quality/rides/driver_stats?record=a%00b', 'record'],
    [`/api/quality/rides/driver_stats?record=${ids.day1}&record=${ids.day2}`, 'record'],
  ];
  for (const [p, field] of refused) {
    const r = await json<{ field: string }>(ui, p);
    expect([p, r.status, r.body.field]).toEqual([p, 400, field]);
  }
  for (const p of ['/api/quality', '/api/quality/rides', '/api/quality/rides/driver_stats/more']) {
    expect([p, (await get(ui, p)).status]).toEqual([p, 404]);
  }
  const unknownView = await json<{ code: string; error: string }>(ui, '/api/quality/rides/nope');
  expect([unknownView.status, unknownView.body.code]).toEqual([404, 'NOT_FOUND']);
  // A well-formed id the view has no record of (another view's, a guess) is not read.
  const unknownRecord = await json<{ error: string }>(ui, '/api/quality/rides/driver_stats?record=00000000-0000-4000-8000-000000000000');
  expect(unknownRecord.status).toBe(404);
  expect(unknownRecord.body.error).toContain("no stored statistics '00000000-0000-4000-8000-000000000000' of feature view 'driver_stats'");
  // Parameters that would name a host are not read.
  expect((await get(ui, '/api/quality/rides/driver_stats?address=127.0.0.1:1&offline=127.0.0.1:1')).status).toBe(200);
});
