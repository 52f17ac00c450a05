import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { equals, type DescMessage, type Message } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import { FeatureRepoError, applyRequestOf, loadFeatureRepo, type FeatureRepoProblem } from './index';

const EXAMPLES = path.resolve(__dirname, '../../../examples');
const YAML_FILE = 'driver_stats.yaml';
const exampleYaml = readFileSync(path.join(EXAMPLES, 'driver-stats', YAML_FILE), 'utf8');

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A copy of an example repo with some files replaced or added. */
function repo(example: 'driver-stats' | 'driver-stats-ts', files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'larder-repo-'));
  dirs.push(dir);
  cpSync(path.join(EXAMPLES, example), dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

/** The example YAML with one piece of text replaced (which must exist). */
function yamlWith(from: string, to: string): string {
  expect(exampleYaml).toContain(from);
  return exampleYaml.replace(from, to);
}

/** The 1-based line where `text` first appears in `source`. */
function lineOf(source: string, text: string): number {
  const index = source.indexOf(text);
  expect(index).toBeGreaterThanOrEqual(0);
  return source.slice(0, index).split('\n').length;
}

async function problemsOf(dir: string): Promise<FeatureRepoProblem[]> {
  try {
    await loadFeatureRepo(dir);
  } catch (error) {
    if (error instanceof FeatureRepoError) return [...error.problems];
    throw error;
  }
  throw new Error(`expected ${dir} to fail to load`);
}

function sameMessages<T extends Message>(schema: DescMessage, a: readonly T[], b: readonly T[]): void {
  expect(a.map((m) => (m as unknown as { name: string }).name)).toEqual(b.map((m) => (m as unknown as { name: string }).name));
  a.forEach((m, i) => {
    const other = b[i] as T;
    if (!equals(schema, m, other)) {
      // Show the difference when they are not equal.
      expect(m).toEqual(other);
    }
    expect(equals(schema, m, other)).toBe(true);
  });
}

describe('loadFeatureRepo', () => {
  it('loads the YAML and the TypeScript forms of driver-stats into identical registry objects', async () => {
    const yaml = await loadFeatureRepo(path.join(EXAMPLES, 'driver-stats'), { resolveFilePaths: false });
    const ts = await loadFeatureRepo(path.join(EXAMPLES, 'driver-stats-ts'), { resolveFilePaths: false });

    expect(yaml.set.featureViews.map((v) => v.name)).toEqual(['driver_hourly_stats', 'driver_hourly_stats_fresh']);
    expect(yaml.set.dataSources.map((s) => [s.name, s.kind.case])).toEqual([
      ['driver_stats_push_source', 'push'],
      ['driver_stats_source', 'file'],
      ['vals_to_add', 'request'],
    ]);
    expect(yaml.set.onDemandFeatureViews.map((v) => v.outputs.map((o) => o.name))).toEqual([['conv_rate_plus_val1', 'conv_rate_plus_val2']]);
    expect(yaml.set.featureViews[0]?.ttl?.seconds).toBe(86400n);

    expect(equals(registryV1.ProjectSchema, yaml.set.project, ts.set.project)).toBe(true);
    expect(yaml.set.project.name).toBe('driver_stats');
    expect(yaml.set.project.owner).toBe('ml-platform@example.com');
    sameMessages(registryV1.EntitySchema, yaml.set.entities, ts.set.entities);
    sameMessages(registryV1.DataSourceSchema, yaml.set.dataSources, ts.set.dataSources);
    sameMessages(registryV1.FeatureViewSchema, yaml.set.featureViews, ts.set.featureViews);
    sameMessages(registryV1.OnDemandFeatureViewSchema, yaml.set.onDemandFeatureViews, ts.set.onDemandFeatureViews);
    sameMessages(registryV1.FeatureServiceSchema, yaml.set.featureServices, ts.set.featureServices);
    expect(yaml.set.savedDatasets).toEqual([]);
    // Same larder.yaml, each resolved against its own folder.
    const relativeTo = (config: typeof yaml.config) => JSON.parse(JSON.stringify(config).replaceAll(config.repoPath, '<repo>')) as unknown;
    expect(relativeTo(yaml.config)).toEqual(relativeTo(ts.config));
  });

  it('reads larder.yaml and resolves paths against the repo', async () => {
    const dir = repo('driver-stats');
    const { config, set } = await loadFeatureRepo(dir);
    expect(config).toEqual({
      repoPath: dir,
      project: 'driver_stats',
      registry: { kind: 'file', path: path.join(dir, 'data/registry.db') },
      onlineStore: { type: 'sqlite', path: path.join(dir, 'data/online_store.db') },
      offlineStore: { type: 'duckdb' },
      services: {},
    });
    const file = set.dataSources.find((s) => s.kind.case === 'file');
    expect(file?.kind.case === 'file' && file.kind.value.path).toBe(path.join(dir, 'data/driver_stats.parquet'));
  });

  it('reads remote, postgres and redis settings', async () => {
    const remote = repo('driver-stats', {
      'larder.yaml': [
        'project: rides',
        'registry: { address: "registry.larder:6570" }',
        'online_store: { type: redis, url: "redis://localhost:6379/0", layout: feast }',
        'offline_store: { type: bigquery, project_id: p, dataset: d, api_endpoint: "http://localhost:9050" }',
        'services: { online_serving: "localhost:6566" }',
      ].join('\n'),
    });
    const { config } = await loadFeatureRepo(remote, { validate: false });
    expect(config.registry).toEqual({ kind: 'remote', address: 'registry.larder:6570' });
    expect(config.onlineStore).toEqual({ type: 'redis', url: 'redis://localhost:6379/0', layout: 'feast' });
    expect(config.offlineStore).toEqual({ type: 'bigquery', projectId: 'p', dataset: 'd', apiEndpoint: 'http://localhost:9050' });
    expect(config.services).toEqual({ online_serving: 'localhost:6566' });

    const pg = repo('driver-stats', { 'larder.yaml': 'project: rides\nregistry:\n  postgres: postgresql://u@localhost/larder\n' });
    expect((await loadFeatureRepo(pg, { validate: false })).config.registry).toEqual({ kind: 'postgres', url: 'postgresql://u@localhost/larder' });
  });

  it('reads several YAML files and TypeScript files side by side', async () => {
    const dir = repo('driver-stats', {
      'extra.yaml': 'kind: Entity\nname: rider\nvalue_type: string\n---\n',
      'more.ts':
        "import { defineEntity } from '@larder/sdk';\nexport const customer = defineEntity({ name: 'customer', valueType: 'int64' });\nexport const all = [customer];\n",
    });
    const { set, sources } = await loadFeatureRepo(dir);
    expect(set.entities.map((e) => e.name)).toEqual(['customer', 'driver', 'rider']);
    expect(sources.get(registryV1.ObjectKind.ENTITY, 'customer')).toEqual({ form: 'ts', file: 'more.ts', line: 2, column: expect.any(Number) });
    expect(sources.get(registryV1.ObjectKind.ENTITY, 'rider')?.file).toBe('extra.yaml');
  });
});

describe('value type spellings', () => {
  // Every spelling a YAML or TypeScript definition could use before core and
  // the SDK shared one table of names; a repo written with any of them loads.
  const spellings: Array<[string, registryV1.Field['valueType']]> = [
    ['bytes', 1],
    ['string', 2],
    ['int32', 3],
    ['int64', 4],
    ['double', 5],
    ['float64', 5],
    ['float', 6],
    ['float32', 6],
    ['bool', 7],
    ['boolean', 7],
    ['unix_timestamp', 8],
    ['timestamp', 8],
    ['bytes_list', 11],
    ['string_list', 12],
    ['int32_list', 13],
    ['int64_list', 14],
    ['double_list', 15],
    ['float64_list', 15],
    ['float_list', 16],
    ['float32_list', 16],
    ['bool_list', 17],
    ['unix_timestamp_list', 18],
    ['timestamp_list', 18],
  ];

  it('loads each from YAML and from TypeScript with its type', async () => {
    const schemaYaml = spellings.map(([type], i) => `  - { name: f${i}, value_type: ${type} }`).join('\n');
    const schemaTs = spellings.map(([type], i) => `{ name: 'f${i}', valueType: '${type}' }`).join(', ');
    const dir = repo('driver-stats', {
      'spellings.yaml': `kind: FeatureView\nname: spelled_yaml\nentities: [driver]\nbatch_source: driver_stats_source\nschema:\n${schemaYaml}\n`,
      'spellings.ts':
        `import { defineFeatureView } from '@larder/sdk';\nexport const v = defineFeatureView({ name: 'spelled_ts', ` +
        `entities: ['driver'], batchSource: 'driver_stats_source', schema: [${schemaTs}] });\n`,
    });
    const { set } = await loadFeatureRepo(dir);
    const expected = spellings.map(([, type], i) => [`f${i}`, type]);
    for (const name of ['spelled_yaml', 'spelled_ts']) {
      const view = set.featureViews.find((v) => v.name === name);
      expect(view?.schema.map((f) => [f.name, f.valueType])).toEqual(expected);
    }
  });
});

describe('loadFeatureRepo errors name file, line and key', () => {
  const expectProblem = (problems: FeatureRepoProblem[], expected: Partial<Omit<FeatureRepoProblem, 'message'>> & { message: RegExp }) => {
    const { message, ...rest } = expected;
    expect(problems).toEqual(expect.arrayContaining([expect.objectContaining({ ...rest, message: expect.stringMatching(message) })]));
  };

  it('unknown kind', async () => {
    const text = yamlWith('kind: FeatureService', 'kind: FeatureServise');
    const problems = await problemsOf(repo('driver-stats', { [YAML_FILE]: text }));
    expect(problems).toHaveLength(1);
    expectProblem(problems, { file: YAML_FILE, line: lineOf(text, 'kind: FeatureServise'), column: 1, key: 'kind', message: /unknown kind "FeatureServise"/ });
  });

  it('missing kind', async () => {
    const text = `${exampleYaml}---\nname: orphan\n`;
    const problems = await problemsOf(repo('driver-stats', { [YAML_FILE]: text }));
    expectProblem(problems, { file: YAML_FILE, line: lineOf(text, 'name: orphan'), key: '', message: /missing required key 'kind'/ });
  });

  it('unknown key, nested too', async () => {
    const text = yamlWith('ttl: 1d\nschema:\n  - name: conv_rate\n    value_type: float\n', 'tll: 1d\nschema:\n  - name: conv_rate\n    valu_type: float\n');
    const problems = await problemsOf(repo('driver-stats', { [YAML_FILE]: text }));
    expectProblem(problems, {
      file: YAML_FILE,
      line: lineOf(text, 'tll: 1d'),
      column: 1,
      key: 'tll',
      message: /unknown key 'tll' \(expected one of name, entities, schema, ttl/,
    });
    expectProblem(problems, { file: YAML_FILE, line: lineOf(text, 'valu_type'), column: 5, key: 'schema[0].valu_type', message: /unknown key 'valu_type'/ });
    expectProblem(problems, { file: YAML_FILE, line: lineOf(text, '  - name: conv_rate'), key: 'schema[0]', message: /missing required key 'value_type'/ });
  });

  it('wrong types', async () => {
    const text = yamlWith('entities: [driver]\nttl: 1d', 'entities: driver\nttl: [1d]\nonline: "yes"');
    const problems = await problemsOf(repo('driver-stats', { [YAML_FILE]: text }));
    expectProblem(problems, { file: YAML_FILE, line: lineOf(text, 'entities: driver'), key: 'entities', message: /expected a list, got string "driver"/ });
    expectProblem(problems, { file: YAML_FILE, line: lineOf(text, 'ttl: [1d]'), key: 'ttl', message: /expected a duration/ });
    expectProblem(problems, { file: YAML_FILE, line: lineOf(text, 'online: "yes"'), key: 'online', message: /expected true or false/ });
  });

  it('unknown value type and unparseable ttl', async () => {
    const text = yamlWith('value_type: int64\ndescription: A driver', 'value_type: integer\ndescription: A driver').replace(
      'ttl: 1d\nschema',
      'ttl: one day\nschema',
    );
    const problems = await problemsOf(repo('driver-stats', { [YAML_FILE]: text }));
    expectProblem(problems, { file: YAML_FILE, line: lineOf(text, 'value_type: integer'), key: 'value_type', message: /unknown value type 'integer'/ });
    expectProblem(problems, { file: YAML_FILE, line: lineOf(text, 'ttl: one day'), key: 'ttl', message: /expected a duration/ });
  });

  it('duplicate names, across files and forms', async () => {
    const dir = repo('driver-stats', {
      'more.yaml': '# more\nkind: Entity\nname: driver\nvalue_type: string\n',
      'views.ts': [
        "import { defineFeatureView } from '@larder/sdk';",
        '',
        "export const clash = defineFeatureView({ name: 'transformed_conv_rate', schema: [], batchSource: 'driver_stats_source' });",
      ].join('\n'),
    });
    const problems = await problemsOf(dir);
    expect(problems).toHaveLength(2);
    expectProblem(problems, {
      file: 'more.yaml',
      line: 3,
      column: 1,
      key: 'name',
      message: new RegExp(`duplicate entity name 'driver' \\(first defined at ${YAML_FILE}:${lineOf(exampleYaml, 'name: driver\n')}\\)`),
    });
    // Views and on-demand views share one namespace.
    expectProblem(problems, { file: 'views.ts', line: 3, key: 'name', message: /duplicate feature view name 'transformed_conv_rate'/ });
  });

  it('missing references (from core)', async () => {
    const text = yamlWith('entities: [driver]\nttl: 1d', 'entities: [drivr]\nttl: 1d').replace(
      '  - feature_view: transformed_conv_rate',
      '  - feature_view: transformed_conv',
    );
    const problems = await problemsOf(repo('driver-stats', { [YAML_FILE]: text }));
    expectProblem(problems, { file: YAML_FILE, line: lineOf(text, '[drivr]'), key: 'entities[0]', message: /drivr/ });
    expectProblem(problems, {
      file: YAML_FILE,
      line: lineOf(text, '  - feature_view: transformed_conv\n'),
      key: 'projections[1].feature_view',
      message: /transformed_conv/,
    });
  });

  it('missing source reference points into the flattened data source document', async () => {
    const text = yamlWith(
      'kind: PushSource\nname: driver_stats_push_source\nbatch_source: driver_stats_source',
      'kind: PushSource\nname: driver_stats_push_source\nbatch_source: driver_stats_sauce',
    );
    const problems = await problemsOf(repo('driver-stats', { [YAML_FILE]: text }));
    expectProblem(problems, { file: YAML_FILE, line: lineOf(text, 'batch_source: driver_stats_sauce'), key: 'batch_source', message: /driver_stats_sauce/ });
  });

  it('feature-name collisions (from core)', async () => {
    const text = yamlWith('  - name: acc_rate\n    value_type: float\n    description', '  - name: conv_rate\n    value_type: float\n    description').replace(
      '  - name: avg_daily_trips\n    value_type: int64\n    description',
      '  - name: driver_id\n    value_type: int64\n    description',
    );
    const problems = await problemsOf(repo('driver-stats', { [YAML_FILE]: text }));
    const viewStart = lineOf(text, 'name: driver_hourly_stats\n');
    const after = (needle: string) =>
      viewStart -
      1 +
      lineOf(
        text
          .split('\n')
          .slice(viewStart - 1)
          .join('\n'),
        needle,
      );
    expectProblem(problems, {
      file: YAML_FILE,
      line: after('  - name: conv_rate\n    value_type: float\n    description: Share of offers the driver accepted'),
      key: 'schema[1].name',
      message: /conv_rate/,
    });
    expectProblem(problems, { file: YAML_FILE, line: after('  - name: driver_id'), key: 'schema[2].name', message: /driver_id/ });
  });

  it('invalid ttl (from core)', async () => {
    const text = yamlWith(
      'ttl: 1d\nschema:\n  - name: conv_rate\n    value_type: float\n    description',
      'ttl: -1h\nschema:\n  - name: conv_rate\n    value_type: float\n    description',
    );
    const problems = await problemsOf(repo('driver-stats', { [YAML_FILE]: text }));
    expectProblem(problems, { file: YAML_FILE, line: lineOf(text, 'ttl: -1h'), column: 1, key: 'ttl', message: /ttl/ });
  });

  it('CEL that does not compile or type-check (from core)', async () => {
    const text = yamlWith(
      'expression: double(driver_hourly_stats.conv_rate) + double(vals_to_add.val_to_add_2)',
      'expression: driver_hourly_stats.conv_rate + vals_to_add.nope +',
    ).replace(
      'expression: double(driver_hourly_stats.conv_rate) + double(vals_to_add.val_to_add)',
      'expression: driver_hourly_stats.conv_rate + vals_to_add.missing',
    );
    const problems = await problemsOf(repo('driver-stats', { [YAML_FILE]: text }));
    expectProblem(problems, { file: YAML_FILE, line: lineOf(text, 'vals_to_add.missing'), key: 'outputs[0].expression', message: /missing/ });
    expectProblem(problems, { file: YAML_FILE, line: lineOf(text, 'vals_to_add.nope +'), key: 'outputs[1].expression', message: /./ });
  });

  it('problems in TypeScript definitions point at the defining call', async () => {
    const dir = repo('driver-stats-ts');
    const file = path.join(dir, 'driver_stats.ts');
    const text = readFileSync(file, 'utf8').replace("entities: [driver],\n  ttl: '1d'", "entities: ['drivr'],\n  ttl: '1d'");
    writeFileSync(file, text);
    const problems = await problemsOf(dir);
    expectProblem(problems, {
      file: 'driver_stats.ts',
      line: lineOf(text, 'export const driverHourlyStats = defineFeatureView('),
      key: 'entities[0]',
      message: /drivr/,
    });
  });

  it('a builder that throws in a TypeScript file names the line and field', async () => {
    const dir = repo('driver-stats-ts', {
      'bad.ts': ["import { defineEntity } from '@larder/sdk';", '', "export const rider = defineEntity({ name: 'rider', valueType: 'uuid' as 'int64' });"].join(
        '\n',
      ),
    });
    const problems = await problemsOf(dir);
    expect(problems).toEqual([{ file: 'bad.ts', line: 3, column: expect.any(Number), key: 'value_type', message: "unknown value type 'uuid'" }]);
  });

  it('a TypeScript file that fails to import', async () => {
    const dir = repo('driver-stats-ts', { 'broken.ts': "export const x = 1;\nthrow new Error('boom');\n" });
    const problems = await problemsOf(dir);
    expect(problems).toEqual([expect.objectContaining({ file: 'broken.ts', message: 'cannot load definitions: boom' })]);
  });

  it('YAML syntax errors', async () => {
    const text = yamlWith('entities: [driver]', 'entities: [driver');
    const problems = await problemsOf(repo('driver-stats', { [YAML_FILE]: text }));
    expect(problems[0]).toEqual(expect.objectContaining({ file: YAML_FILE, message: expect.stringMatching(/^invalid YAML/) }));
    expect(problems[0]?.line).toBeGreaterThanOrEqual(lineOf(text, 'entities: [driver'));
  });

  it('larder.yaml problems', async () => {
    const problems = await problemsOf(
      repo('driver-stats', {
        'larder.yaml': 'project: driver stats\nregistry:\n  path: r.db\n  address: "x:1"\nonline_store:\n  type: redis\nofline_store: {}\n',
      }),
    );
    expectProblem(problems, { file: 'larder.yaml', line: 1, key: 'project', message: /'driver stats' is not a valid project name/ });
    expectProblem(problems, { file: 'larder.yaml', line: 2, key: 'registry', message: /exactly one of path, url, postgres, address/ });
    expectProblem(problems, { file: 'larder.yaml', line: 7, key: 'ofline_store', message: /unknown key 'ofline_store'/ });
  });

  it('larder.yaml settings a store type needs', async () => {
    const problems = await problemsOf(repo('driver-stats', { 'larder.yaml': 'project: p\nonline_store:\n  type: redis\nservices:\n  registry: nowhere\n' }));
    expectProblem(problems, { file: 'larder.yaml', line: 2, key: 'online_store', message: /missing required key 'url' for a redis online store/ });
    expectProblem(problems, { file: 'larder.yaml', line: 5, column: 3, key: 'services.registry', message: /expected host:port, got 'nowhere'/ });
  });

  it('a missing larder.yaml', async () => {
    const dir = repo('driver-stats');
    rmSync(path.join(dir, 'larder.yaml'));
    expect(await problemsOf(dir)).toEqual([expect.objectContaining({ file: 'larder.yaml', message: expect.stringMatching(/no larder.yaml/) })]);
  });

  it('formats every problem as file:line:column: key: message', async () => {
    const text = yamlWith('tags:\n  team: driver_performance\n---\nkind: PushSource', 'tags:\n  team: 7\n---\nkind: PushSource');
    try {
      await loadFeatureRepo(repo('driver-stats', { [YAML_FILE]: text }));
      throw new Error('expected a FeatureRepoError');
    } catch (error) {
      expect(error).toBeInstanceOf(FeatureRepoError);
      expect((error as Error).message).toContain(`${YAML_FILE}:${lineOf(text, 'team: 7')}:3: tags.team: expected a string, got number 7`);
    }
  });
});

describe('Permission definitions', () => {
  const PERMISSIONS_YAML = [
    'kind: Permission',
    'name: team-risk-readers',
    'types: [feature_view, feature_service]',
    'name_patterns: ["driver_*"]',
    'required_tags: { team: driver_performance }',
    'actions: [describe, read_online, read_offline]',
    'policy:',
    '  roles: [risk-analysts]',
    '  service_accounts: [serving/kserve-risk]',
    'description: Who reads driver features',
    '---',
    'kind: Permission',
    'name: everyone-describes',
    'actions: [describe]',
    'policy: { any_authenticated: true }',
    '',
  ].join('\n');
  const PERMISSIONS_TS = [
    "import { definePermission } from '@larder/sdk';",
    '',
    'export const teamRiskReaders = definePermission({',
    "  name: 'team-risk-readers',",
    "  types: ['feature_view', 'feature_service'],",
    "  namePatterns: ['driver_*'],",
    "  requiredTags: { team: 'driver_performance' },",
    "  actions: ['describe', 'read_online', 'read_offline'],",
    "  policy: { roles: ['risk-analysts'], serviceAccounts: ['serving/kserve-risk'] },",
    "  description: 'Who reads driver features',",
    '});',
    "export const everyoneDescribes = definePermission({ name: 'everyone-describes', actions: ['describe'], policy: { anyAuthenticated: true } });",
    '',
  ].join('\n');

  const expectProblem = (problems: FeatureRepoProblem[], expected: Partial<Omit<FeatureRepoProblem, 'message'>> & { message: RegExp }) => {
    const { message, ...rest } = expected;
    expect(problems).toEqual(expect.arrayContaining([expect.objectContaining({ ...rest, message: expect.stringMatching(message) })]));
  };

  it('loads kind: Permission from YAML and definePermission from TypeScript into identical messages, and applies them', async () => {
    const yaml = await loadFeatureRepo(repo('driver-stats', { 'permissions.yaml': PERMISSIONS_YAML }));
    const ts = await loadFeatureRepo(repo('driver-stats-ts', { 'permissions.ts': PERMISSIONS_TS }));
    expect(yaml.set.permissions.map((p) => p.name)).toEqual(['everyone-describes', 'team-risk-readers']);
    const readers = yaml.set.permissions[1];
    expect(readers).toMatchObject({
      types: [registryV1.ObjectKind.FEATURE_VIEW, registryV1.ObjectKind.FEATURE_SERVICE],
      namePatterns: ['driver_*'],
      requiredTags: { team: 'driver_performance' },
      actions: [registryV1.Action.DESCRIBE, registryV1.Action.READ_ONLINE, registryV1.Action.READ_OFFLINE],
      policy: { roles: ['risk-analysts'], serviceAccounts: ['serving/kserve-risk'], users: [], anyAuthenticated: false },
      description: 'Who reads driver features',
    });
    expect(yaml.set.permissions[0]?.policy?.anyAuthenticated).toBe(true);
    sameMessages(registryV1.PermissionSchema, yaml.set.permissions, ts.set.permissions);
    expect(yaml.sources.get(registryV1.ObjectKind.PERMISSION, 'team-risk-readers')?.file).toBe('permissions.yaml');
    expect(ts.sources.get(registryV1.ObjectKind.PERMISSION, 'everyone-describes')).toEqual({
      form: 'ts',
      file: 'permissions.ts',
      line: 12,
      column: expect.any(Number),
    });
    const request = applyRequestOf(yaml, { prune: true });
    expect(request.permissions.map((p) => p.name)).toEqual(['everyone-describes', 'team-risk-readers']);
  });

  it('names file, line and key for unknown actions and types, unknown policy keys and a missing policy', async () => {
    const text = PERMISSIONS_YAML.replace('actions: [describe, read_online, read_offline]', 'actions: [describe, read-online]')
      .replace('types: [feature_view, feature_service]', 'types: [feature_view, featureservice]')
      .replace('  service_accounts: [serving/kserve-risk]', '  service_account: serving/kserve-risk')
      .replace('policy: { any_authenticated: true }\n', 'owner: nobody\n');
    const problems = await problemsOf(repo('driver-stats', { 'permissions.yaml': text }));
    expectProblem(problems, {
      file: 'permissions.yaml',
      line: lineOf(text, 'actions: [describe, read-online]'),
      key: 'actions[1]',
      message:
        /^'read-online' is not one of describe, create, update, delete, read_online, read_offline, write_online, write_offline, materialize, manage_permissions$/,
    });
    expectProblem(problems, {
      file: 'permissions.yaml',
      line: lineOf(text, 'types: ['),
      key: 'types[1]',
      message: /^'featureservice' is not one of project, entity, data_source, feature_view/,
    });
    expectProblem(problems, {
      file: 'permissions.yaml',
      line: lineOf(text, 'service_account:'),
      column: 3,
      key: 'policy.service_account',
      message: /unknown key 'service_account' \(expected one of roles, users, namespaces, service_accounts, certificate_subjects, any_authenticated\)/,
    });
    // A missing key is reported at its document's first line.
    expectProblem(problems, { file: 'permissions.yaml', line: lineOf(text, '---') + 1, key: '', message: /missing required key 'policy'/ });
    expect(problems).toHaveLength(4);
  });

  it('points core validation problems (bad identities, globs, empty policy) at the YAML key', async () => {
    const text = PERMISSIONS_YAML.replace('  service_accounts: [serving/kserve-risk]', '  service_accounts: [kserve-risk]')
      .replace('name_patterns: ["driver_*"]', 'name_patterns: ["driver_[0-9]+"]')
      .replace('policy: { any_authenticated: true }', 'policy: { roles: [] }');
    const problems = await problemsOf(repo('driver-stats', { 'permissions.yaml': text }));
    expectProblem(problems, {
      file: 'permissions.yaml',
      line: lineOf(text, 'service_accounts: [kserve-risk]'),
      key: 'policy.service_accounts[0]',
      message: /permission 'team-risk-readers' has service account 'kserve-risk', which is not '<namespace>\/<name>'/,
    });
    expectProblem(problems, {
      file: 'permissions.yaml',
      line: lineOf(text, 'name_patterns:'),
      key: 'name_patterns[0]',
      message: /globs, not regular expressions/,
    });
    expectProblem(problems, { file: 'permissions.yaml', line: lineOf(text, 'policy: { roles: [] }'), key: 'policy', message: /names no one/ });
    expect(problems).toHaveLength(3);
  });

  it('duplicate permission names across YAML and TypeScript, and a bad action in TypeScript, name their lines', async () => {
    const dup = await problemsOf(
      repo('driver-stats', {
        'permissions.yaml': PERMISSIONS_YAML,
        'more.ts':
          "import { definePermission } from '@larder/sdk';\n\nexport const again = definePermission({ name: 'everyone-describes', actions: ['describe'], policy: { users: ['alice'] } });\n",
      }),
    );
    // Files load in name order: more.ts first, so the YAML document is the duplicate.
    expect(dup).toEqual([
      expect.objectContaining({
        file: 'permissions.yaml',
        line: lineOf(PERMISSIONS_YAML, 'name: everyone-describes'),
        key: 'name',
        message: "duplicate permission name 'everyone-describes' (first defined at more.ts:3)",
      }),
    ]);

    const bad = await problemsOf(
      repo('driver-stats-ts', {
        'bad.ts':
          "import { definePermission } from '@larder/sdk';\n\nexport const p = definePermission({ name: 'p', actions: ['describe', 'read' as 'describe'], policy: { users: ['alice'] } });\n",
      }),
    );
    expect(bad).toEqual([
      {
        file: 'bad.ts',
        line: 3,
        column: expect.any(Number),
        key: 'actions[1]',
        message: expect.stringMatching(/^"read" is not an action; use one of describe, create/),
      },
    ]);
  });
});
