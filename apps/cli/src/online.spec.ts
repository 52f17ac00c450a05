// `larder get-online-features` as a user runs it: the CLI as a child process against
// the real registry and online-serving services (child processes too), reading rows
// written here into the SQLite online store the service serves.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteOnlineStore } from '@larder/online-store';
import type { ViewDescriptor } from '@larder/online-store';
import { registryV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import { runLarderCli as larder, startLarderApp } from '@larder/testing';
import type { RunningLarderApp } from '@larder/testing';
import { parseEntityJson, parseInputValue } from './commands/online';

jest.setTimeout(180_000);

const T = typesV1.ValueType;
const work = mkdtempSync(path.join(os.tmpdir(), 'larder-cli-online-'));
const repo = path.join(work, 'repo');
/** A folder without larder.yaml: only --address says where the service is. */
const elsewhere = path.join(work, 'elsewhere');
let registry: RunningLarderApp;
let serving: RunningLarderApp;

const int64 = (v: bigint): typesV1.Value => ({ val: { case: 'int64Val', value: v } }) as typesV1.Value;
const str = (v: string): typesV1.Value => ({ val: { case: 'stringVal', value: v } }) as typesV1.Value;
const double = (v: number): typesV1.Value => ({ val: { case: 'doubleVal', value: v } }) as typesV1.Value;
const float = (v: number): typesV1.Value => ({ val: { case: 'floatVal', value: v } }) as typesV1.Value;

const driverStats: ViewDescriptor = {
  project: 'rides',
  name: 'driver_stats',
  features: [
    { name: 'conv_rate', type: T.DOUBLE },
    { name: 'trips', type: T.INT64 },
  ],
  joinKeys: ['driver_id'],
};
const driverZone: ViewDescriptor = { project: 'rides', name: 'driver_zone', features: [{ name: 'surge', type: T.FLOAT }], joinKeys: ['driver_id', 'zone_id'] };
const at = Date.parse('2026-01-01T10:00:00Z');

beforeAll(async () => {
  mkdirSync(repo);
  mkdirSync(elsewhere);
  const storePath = path.join(work, 'online.db');
  const store = new SqliteOnlineStore({ path: storePath });
  await store.write(driverStats, [
    { entityKey: { joinKeys: ['driver_id'], entityValues: [int64(1001n)] }, eventTs: at, values: { conv_rate: double(0.25), trips: int64(12n) } },
    { entityKey: { joinKeys: ['driver_id'], entityValues: [int64(1002n)] }, eventTs: at + 60_000, values: { conv_rate: double(0.5), trips: int64(7n) } },
  ]);
  // "007" is a string key: sent as int64 7 it would find nothing.
  await store.write(driverZone, [
    { entityKey: { joinKeys: ['driver_id', 'zone_id'], entityValues: [int64(1001n), str('007')] }, eventTs: at, values: { surge: float(1.5) } },
  ]);
  await store.close();

  registry = await startLarderApp({ app: 'registry', env: { LARDER_REGISTRY_LOCATION: path.join(work, 'registry.json'), LARDER_METRICS_ENABLED: 'false' } });
  const client = createClient(registryV1.RegistryService, registry.address);
  await client.applyRegistry({
    project: 'rides',
    entities: [
      { name: 'driver', joinKey: 'driver_id', valueType: T.INT64 },
      { name: 'zone', joinKey: 'zone_id', valueType: T.STRING },
    ],
    dataSources: [{ name: 'driver_src', timestampField: 'event_ts', kind: { case: 'file', value: { path: path.join(work, 'driver_stats.parquet') } } }],
    featureViews: [
      { name: 'driver_stats', entities: ['driver'], batchSource: 'driver_src', schema: driverStats.features.map((f) => ({ name: f.name, valueType: f.type })) },
      { name: 'driver_zone', entities: ['driver', 'zone'], batchSource: 'driver_src', schema: [{ name: 'surge', valueType: T.FLOAT }] },
    ],
    featureServices: [{ name: 'ranking', projections: [{ featureView: 'driver_stats', features: ['trips'] }] }],
  });
  client.close();
  serving = await startLarderApp({
    app: 'online-serving',
    env: {
      LARDER_REGISTRY_ADDRESS: registry.address,
      LARDER_ONLINE_STORE_TYPE: 'sqlite',
      LARDER_ONLINE_STORE_PATH: storePath,
      LARDER_HTTP_ENABLED: 'false',
      LARDER_METRICS_ENABLED: 'false',
    },
  });
  writeFileSync(
    path.join(repo, 'larder.yaml'),
    `project: rides\nregistry:\n  address: ${registry.address}\nonline_store:\n  type: sqlite\n  path: ${storePath}\noffline_store:\n  type: duckdb\nservices:\n  online_serving: ${serving.address}\n`,
  );
});

afterAll(async () => {
  await serving?.stop();
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('reads the latest values as a table, from the service larder.yaml names', async () => {
  const run = await larder(['get-online-features', '--entity', 'driver_id=1001,1002,1003', '--features', 'driver_stats:conv_rate,driver_stats:trips'], repo);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(run.stdout).toBe(
    ['driver_id  conv_rate    trips', '1001       0.25         12', '1002       0.5          7', '1003       (not found)  (not found)', ''].join('\n'),
  );
});

test('composite keys take the types the registry declares', async () => {
  const run = await larder(
    ['get-online-features', '--entity', 'driver_id=1001,1001', '--entity', 'zone_id=007,7', '--features', 'driver_zone:surge', '-o', 'json'],
    repo,
  );
  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout)).toEqual({
    metadata: { feature_names: ['driver_id', 'zone_id', 'surge'] },
    results: [
      { values: [1001, 1001], statuses: ['PRESENT', 'PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z'] },
      { values: ['007', '7'], statuses: ['PRESENT', 'PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z'] },
      { values: [1.5, null], statuses: ['PRESENT', 'NOT_FOUND'], event_timestamps: ['2026-01-01T10:00:00Z', '1970-01-01T00:00:00Z'] },
    ],
  });
});

test('entity rows from a JSON file, a feature service, --address and full feature names', async () => {
  writeFileSync(path.join(elsewhere, 'rows.json'), JSON.stringify([{ driver_id: 1002 }, { driver_id: 1001 }]));
  const run = await larder(
    ['get-online-features', '--address', serving.address, '--entities', 'rows.json', '--feature-service', 'ranking', '--full-feature-names', '-o', 'json'],
    elsewhere,
  );
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const json = JSON.parse(run.stdout) as { metadata: { feature_names: string[] }; results: { values: unknown[]; event_timestamps: string[] }[] };
  expect(json.metadata.feature_names).toEqual(['driver_id', 'driver_stats__trips']);
  expect(json.results[1]).toMatchObject({ values: [7, 12], event_timestamps: ['2026-01-01T10:01:00Z', '2026-01-01T10:00:00Z'] });
});

test("an unknown feature gets the service's message; a stopped service a clear one; bad usage exits 2", async () => {
  const unknown = await larder(['get-online-features', '--entity', 'driver_id=1001', '--features', 'driver_stats:nope'], repo);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain("error: INVALID_ARGUMENT: features[0] 'driver_stats:nope'");
  expect(unknown.stderr).toContain('conv_rate, trips');

  const down = await larder(['get-online-features', '--address', '127.0.0.1:1', '--entity', 'driver_id=1001', '--features', 'driver_stats:trips'], elsewhere);
  expect(down.code).toBe(1);
  expect(down.stderr).toContain('the online-serving service at 127.0.0.1:1 is unavailable');

  const noRows = await larder(['get-online-features', '--features', 'driver_stats:trips'], repo);
  expect(noRows.code).toBe(2);
  expect(noRows.stderr).toContain('--entity');
  const badKey = await larder(['get-online-features', '--entity', 'driver_id=abc', '--features', 'driver_stats:trips'], repo);
  expect(badKey.code).toBe(2);
  expect(badKey.stderr).toContain('driver_id[0]: expected an integer, got "abc"');
});

describe('entity values', () => {
  test('without a declared type, integers are int64 and the rest keep their JSON type', () => {
    expect(parseInputValue('42', undefined, 'k').val).toEqual({ case: 'int64Val', value: 42n });
    expect(parseInputValue(1.5, undefined, 'k').val).toEqual({ case: 'doubleVal', value: 1.5 });
    expect(parseInputValue('abc', undefined, 'k').val).toEqual({ case: 'stringVal', value: 'abc' });
    expect(parseInputValue(true, undefined, 'k').val).toEqual({ case: 'boolVal', value: true });
    expect(parseInputValue(7, T.STRING, 'k').val).toEqual({ case: 'stringVal', value: '7' });
    expect(() => parseInputValue('3000000000', T.INT32, 'k[0]')).toThrow('k[0]: expected a 32-bit integer');
  });

  test('a JSON file holds columns or rows, and rows must agree on their keys', () => {
    expect(parseEntityJson('{"driver_id": [1, 2]}', 'f.json')).toEqual({ driver_id: [1, 2] });
    expect(parseEntityJson('[{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]', 'f.json')).toEqual({ a: [1, 2], b: ['x', 'y'] });
    expect(() => parseEntityJson('[{"a": 1}, {"b": 2}]', 'f.json')).toThrow('row 0 has no "b"');
    expect(() => parseEntityJson('{"a": 1}', 'f.json')).toThrow('"a" must be a list');
  });

  test('a join key beyond 2^53 in a JSON file keeps every digit', () => {
    const columns = parseEntityJson('{"driver_id": [9007199254740993], "rate": [9007199254740993]}', 'f.json');
    expect(parseInputValue(columns['driver_id']![0]!, T.INT64, 'k').val).toEqual({ case: 'int64Val', value: 9007199254740993n });
    expect(parseInputValue(columns['driver_id']![0]!, undefined, 'k').val).toEqual({ case: 'int64Val', value: 9007199254740993n });
    expect(parseInputValue(columns['rate']![0]!, T.STRING, 'k').val).toEqual({ case: 'stringVal', value: '9007199254740993' });
    expect(() => parseInputValue(columns['rate']![0]!, T.INT32, 'k[0]')).toThrow('k[0]: expected a 32-bit integer, got 9007199254740993');
  });
});
