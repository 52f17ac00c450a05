// larder import-feast over registries made by the real feast 0.67 package (its cached
// virtualenv): registry.db, a SQLite SQL registry and a PostgreSQL one. The imported repo
// plans and applies, and online serving in the feast layout reads what `feast
// materialize` wrote with the values Feast's own get_online_features gives.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { create } from '@bufbuild/protobuf';
import { checkOnDemandView, compileOnDemandView, lookupValueType, OnDemandEvaluationError, VALUE_TYPE_NAMES } from '@larder/core';
import type { OnDemandInput } from '@larder/core';
import { feastPython } from '@larder/online-store';
import { registryV1, servingV1, typesV1 } from '@larder/proto';
import { Code, createClient, RpcError } from '@larder/rpc';
import type { ServerHandle } from '@larder/rpc';
import { registryService } from '@larder/registry-service';
import { runInProcess, runLarderCli as larder, startLarderApp, testServices } from '@larder/testing';
import { celSkeleton } from './to-repo';

// One Python process makes the three registries (feast's import alone takes seconds); a loaded box makes it slow.
jest.setTimeout(15 * 60_000);

const SCRIPT = path.resolve(__dirname, '..', '..', 'test', 'feast_registry.py');

interface FeastAnswer {
  online?: Record<string, (number | string | null)[]>;
  entities?: { driver_id: number[] };
}

function runFeast(python: string, input: unknown): Promise<FeastAnswer> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out) as FeastAnswer) : reject(new Error(`feast_registry.py exited with ${code}: ${err.slice(-4000)}`)),
    );
    child.stdin.end(JSON.stringify(input));
  });
}

let work: string;
let python: string;
let registry: ServerHandle;
const project = `imp_${Math.random().toString(36).slice(2, 8)}`;
const feastRepo = (name: string) => path.join(work, name);
let fromFile: FeastAnswer;
const redis = testServices().redis;

/** A database of the test PostgreSQL for the SQL registry, and its URL. */
const pgDatabase = `feast_${project}`;
let pgUrl: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'larder-import-feast-'));
  const admin = new pg.Client({ connectionString: testServices().postgres.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pgDatabase}`);
  await admin.end();
  const url = new URL(testServices().postgres.url);
  url.pathname = `/${pgDatabase}`;
  pgUrl = url.href;
  python = await feastPython();
  fromFile = await runFeast(python, {
    project,
    redis: `${redis.host}:${redis.port}`,
    repos: [
      { repo: feastRepo('feast'), registry: path.join(feastRepo('feast'), 'data', 'registry.db'), registry_type: 'file' },
      { repo: feastRepo('feast-sqlite'), registry: `sqlite:///${path.join(feastRepo('feast-sqlite'), 'registry.sqlite')}`, registry_type: 'sql' },
      // Written by feast through SQLAlchemy and psycopg, as a Feast deployment does.
      { repo: feastRepo('feast-pg'), registry: pgUrl.replace(/^postgres(ql)?:/, 'postgresql+psycopg:'), registry_type: 'sql' },
    ],
  });
  registry = await runInProcess(registryService, { LARDER_REGISTRY_LOCATION: path.join(work, 'larder-registry.json') });
});

afterAll(async () => {
  await registry?.shutdown('test over');
  const admin = new pg.Client({ connectionString: testServices().postgres.url });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${pgDatabase} WITH (FORCE)`);
  await admin.end();
  await rm(work, { recursive: true, force: true });
});

/** The definitions with the Feast repo's folder taken out, to compare imports of two registries. */
async function definitions(dir: string, feast: string): Promise<string> {
  return (await readFile(path.join(dir, 'feast_import.yaml'), 'utf8')).replaceAll(feast, '<feast>');
}

describe('registry.db from feast apply', () => {
  const dir = () => path.join(work, 'larder');

  test('is imported: every object listed, the UDF named, larder.yaml on the Redis in the feast layout', async () => {
    const run = await larder(
      ['import-feast', path.join(feastRepo('feast'), 'data', 'registry.db'), dir(), '--feast-repo', feastRepo('feast'), '--redis', redis.url],
      work,
    );
    expect(run).toMatchObject({ code: 0, stderr: '' });
    for (const [kind, name] of [
      ['Entity', 'driver'],
      ['FileSource', 'driver_stats_source'],
      ['PushSource', 'driver_push'],
      ['KafkaSource', 'driver_kafka'],
      ['BigQuerySource', 'driver_bq'],
      ['PostgresSource', 'driver_pg'],
      ['RequestSource', 'vals'],
      ['FeatureView', 'driver_hourly_stats'],
      ['FeatureView', 'driver_fresh'],
      ['FeatureView', 'driver_streamed'],
      ['OnDemandFeatureView', 'conv_plus'],
      ['FeatureService', 'driver_model'],
    ]) {
      expect(run.stdout).toMatch(new RegExp(`^${kind} +${name}$`, 'm'));
    }
    expect(run.stdout).toMatch(/Python UDFs must be rewritten in CEL[^\n]*\n {2}conv_plus: conv_plus/);
    const larderYaml = await readFile(path.join(dir(), 'larder.yaml'), 'utf8');
    expect(larderYaml).toContain(`project: "${project}"`);
    expect(larderYaml).toMatch(/type: redis\n {2}url: "redis:\/\/[^"]+"\n {2}layout: feast/);
    const defs = await readFile(path.join(dir(), 'feast_import.yaml'), 'utf8');
    // ttl, tags, owner and the push and Kafka sources' batch sources came along.
    expect(defs).toMatch(/name: driver_hourly_stats\n[\s\S]*?ttl: 86400\n[\s\S]*?tags:\n {2}team: rides\n {2}tier: gold/);
    expect(defs).toMatch(/kind: PushSource\nname: driver_push\n[\s\S]*?batch_source: driver_stats_source/);
    expect(defs).toMatch(
      /kind: KafkaSource\nname: driver_kafka\n[\s\S]*?bootstrap_servers:\n {2}- localhost:9092\n {2}- 127.0.0.1:9093\n[\s\S]*?watermark_delay: 300/,
    );
    expect(defs).toMatch(/name: driver_fresh\n[\s\S]*?stream_source: driver_push/);
    // Feast's Python is kept, commented, above the view.
    expect(defs).toMatch(
      /^# +def conv_plus\(inputs\):\n# +return \{"conv_plus": \[c \+ v for c, v in zip\(inputs\["conv_rate"\], inputs\["val_to_add"\]\)\]\}\n(# .*\n)?kind: OnDemandFeatureView\nname: conv_plus$/m,
    );
  });

  test('refuses to overwrite the repo without --force, naming the file', async () => {
    const again = await larder(['import-feast', path.join(feastRepo('feast'), 'data', 'registry.db'), dir()], work);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${path.join(dir(), 'larder.yaml')} exists`);
    expect(again.stderr).toContain('--force');
    const forced = await larder(
      ['import-feast', path.join(feastRepo('feast'), 'data', 'registry.db'), dir(), '--feast-repo', feastRepo('feast'), '--redis', redis.url, '--force'],
      work,
    );
    expect(forced.code).toBe(0);
  });

  test('larder plan shows the imported objects, and larder apply registers them', async () => {
    const plan = await larder(['plan', '--registry', registry.address], dir());
    expect(plan).toMatchObject({ code: 0 });
    for (const [kind, name] of [
      ['entity', 'driver'],
      ['data-source', 'driver_kafka'],
      ['data-source', 'driver_push'],
      ['feature-view', 'driver_hourly_stats'],
      ['feature-view', 'driver_streamed'],
      ['on-demand-feature-view', 'conv_plus'],
      ['feature-service', 'driver_model'],
    ]) {
      expect(plan.stdout).toMatch(new RegExp(`^\\+ +${kind} +${name}\\b`, 'm'));
    }
    expect(plan.stdout).toContain('13 to create');
    const apply = await larder(['apply', '--registry', registry.address], dir());
    expect(apply).toMatchObject({ code: 0 });
  });

  test("online serving reads what feast materialize wrote with Feast's own values; the UDF skeleton refuses", async () => {
    // Started in the imported repo: project, Redis and the feast layout come from its larder.yaml.
    const serving = await startLarderApp({
      app: 'online-serving',
      cwd: dir(),
      env: { LARDER_REGISTRY_ADDRESS: registry.address, LARDER_HTTP_ENABLED: 'false', LARDER_METRICS_ENABLED: 'false' },
    });
    const client = createClient(servingV1.OnlineServingService, serving.address);
    try {
      const ids = fromFile.entities?.driver_id as number[];
      const refs = ['conv_rate', 'trips', 'city'].map((f) => `driver_hourly_stats:${f}`);
      const res = await client.getOnlineFeatures({
        project,
        kind: { case: 'features', value: { val: refs } },
        entities: { driver_id: { val: ids.map((id) => ({ val: { case: 'int64Val' as const, value: BigInt(id) } })) } },
      });
      const plain = (v: typesV1.Value): number | string | null =>
        v.val.case === undefined || v.val.case === 'nullVal' ? null : typeof v.val.value === 'bigint' ? Number(v.val.value) : (v.val.value as number | string);
      const ours = Object.fromEntries(
        ['conv_rate', 'trips', 'city'].map((f, i) => [f, (res.results[i + 1] as servingV1.GetOnlineFeaturesResponse_FeatureVector).values.map(plain)]),
      );
      expect(ours).toEqual(fromFile.online);
      // The values are real ones, not all missing.
      expect(ours['city']).toEqual(['Paris', 'Lyon', 'Nice', null]);
      expect(res.results[1]?.statuses).toEqual([
        typesV1.FieldStatus.PRESENT,
        typesV1.FieldStatus.PRESENT,
        typesV1.FieldStatus.PRESENT,
        typesV1.FieldStatus.NOT_FOUND,
      ]);

      const udf = client.getOnlineFeatures({
        project,
        kind: { case: 'features', value: { val: ['conv_plus:conv_plus'] } },
        entities: { driver_id: { val: [{ val: { case: 'int64Val', value: 1001n } }] }, val_to_add: { val: [{ val: { case: 'int64Val', value: 1n } }] } },
      });
      const error = await udf.then(
        () => undefined,
        (e: unknown) => RpcError.from(e),
      );
      expect(error?.code).toBe(Code.INVALID_ARGUMENT);
      expect(error?.message).toContain("rewrite conv_plus.conv_plus from Feast's Python UDF in CEL");
    } finally {
      client.close();
      await serving.stop();
    }
  });
});

describe('SQL registries', () => {
  test('a SQLite SQL registry imports to the same repo as registry.db', async () => {
    const repo = feastRepo('feast-sqlite');
    const out = path.join(work, 'from-sqlite');
    const run = await larder(['import-feast', `sqlite:///${path.join(repo, 'registry.sqlite')}`, out, '--feast-repo', repo, '--redis', redis.url], work);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(await definitions(out, repo)).toBe(await definitions(path.join(work, 'larder'), feastRepo('feast')));

    // A damaged message in one row is named by table, row and project.
    const db = new Database(path.join(repo, 'registry.sqlite'));
    db.prepare('UPDATE feature_views SET feature_view_proto = ? WHERE feature_view_name = ?').run(
      Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
      'driver_fresh',
    );
    db.close();
    const bad = await larder(['import-feast', path.join(repo, 'registry.sqlite'), path.join(work, 'from-bad-sqlite')], work);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      `SQL registry ${path.join(repo, 'registry.sqlite')} table feature_views, row 'driver_fresh' of project '${project}': not a feast.core.FeatureView`,
    );
  });

  test('a PostgreSQL SQL registry (written by feast through psycopg) imports to the same repo, read only', async () => {
    const repo = feastRepo('feast-pg');
    const out = path.join(work, 'from-pg');
    const run = await larder(['import-feast', pgUrl, out, '--feast-repo', repo, '--redis', redis.url], work);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(await definitions(out, repo)).toBe(await definitions(path.join(work, 'larder'), feastRepo('feast')));
    // A project it does not hold is named with the ones it does.
    const other = await larder(['import-feast', pgUrl, path.join(work, 'from-pg-2'), '--project', 'nope'], work);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(`no project 'nope' (it holds ${project})`);
  });
});

describe('a registry that is not one', () => {
  test('a truncated registry.db, bytes that only look like protobuf and an empty file get precise errors', async () => {
    const original = await readFile(path.join(feastRepo('feast'), 'data', 'registry.db'));
    const truncated = path.join(work, 'truncated.db');
    await writeFile(truncated, original);
    await truncate(truncated, Math.floor(original.length / 2));
    const cut = await larder(['import-feast', truncated, path.join(work, 'out-1')], work);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(new RegExp(`^error: ${truncated}: not a Feast registry \\(a serialized feast\\.core\\.Registry\\): .+`));

    const lookalike = path.join(work, 'lookalike.db');
    // Field 99 (varint): valid protobuf, unknown to the Registry message.
    await writeFile(lookalike, Buffer.from([0x98, 0x06, 0x01]));
    const look = await larder(['import-feast', lookalike, path.join(work, 'out-2')], work);
    expect(look.code).toBe(1);
    expect(look.stderr).toContain(`${lookalike}: not a Feast registry: it parses as protobuf but has no registry_schema_version (field 3)`);

    const empty = path.join(work, 'empty.db');
    await writeFile(empty, '');
    const none = await larder(['import-feast', empty, path.join(work, 'out-3')], work);
    expect(none.stderr).toContain(`${empty}: empty file`);

    const remote = await larder(['import-feast', 'gs://bucket/registry.db', path.join(work, 'out-4')], work);
    expect(remote.stderr).toContain('gs://bucket/registry.db: only a local registry.db');
  });
});

test('each CEL skeleton type-checks as its output type (plan passes) and fails when evaluated, naming the view and output', () => {
  const inputs: OnDemandInput[] = [{ variable: 'r', source: 'request', ref: 'r', fields: [{ name: 'x', valueType: typesV1.ValueType.INT64 }] }];
  for (const name of VALUE_TYPE_NAMES) {
    const type = lookupValueType(name) as typesV1.ValueType;
    const view = create(registryV1.OnDemandFeatureViewSchema, {
      name: 'v',
      sources: [{ source: { case: 'requestSource', value: 'r' } }],
      outputs: [{ name: 'o', valueType: type, expression: celSkeleton(type, 'v', 'o') }],
    });
    expect({ name, issues: checkOnDemandView(view, inputs).map((i) => i.message) }).toEqual({ name, issues: [] });
    const output = compileOnDemandView(view, inputs).outputs[0]!;
    expect(() => output.evaluate({ r: { x: create(typesV1.ValueSchema, { val: { case: 'int64Val', value: 1n } }) } })).toThrow(OnDemandEvaluationError);
    expect(() => output.evaluate({ r: { x: create(typesV1.ValueSchema, { val: { case: 'int64Val', value: 1n } }) } })).toThrow('rewrite v.o');
  }
});
