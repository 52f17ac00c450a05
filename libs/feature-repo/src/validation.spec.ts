import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { equals, toBinary } from '@bufbuild/protobuf';
import { registryV1, tfmdV0 } from '@larder/proto';
import { defineFeatureView } from '@larder/sdk';
import { schemaFromText } from '@larder/validation';
import { FeatureRepoError, adoptSchema, loadFeatureRepo, type FeatureRepoProblem } from './index';

const EXAMPLES = path.resolve(__dirname, '../../../examples');
const YAML_FILE = 'driver_stats.yaml';
const exampleYaml = readFileSync(path.join(EXAMPLES, 'driver-stats', YAML_FILE), 'utf8');
const VIEW_TAIL = `batch_source: driver_stats_source
owner: ml-platform@example.com
tags:
  team: driver_performance
`;

const SCHEMA_TEXT = `feature {
  name: "conv_rate"
  type: FLOAT
  float_domain {
    min: 0.0
    max: 1.0
  }
  presence {
    min_fraction: 1.0
  }
  drift_comparator {
    jensen_shannon_divergence {
      threshold: 0.1
    }
  }
}
`;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function repo(validation: string, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'larder-repo-'));
  dirs.push(dir);
  cpSync(path.join(EXAMPLES, 'driver-stats'), dir, { recursive: true });
  expect(exampleYaml).toContain(VIEW_TAIL);
  writeFileSync(path.join(dir, YAML_FILE), exampleYaml.replace(VIEW_TAIL, `${VIEW_TAIL}${validation}`));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

async function view(dir: string): Promise<registryV1.FeatureView> {
  const { set } = await loadFeatureRepo(dir);
  return set.featureViews.find((v) => v.name === 'driver_hourly_stats') as registryV1.FeatureView;
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

const lineOf = (dir: string, text: string) => {
  const source = readFileSync(path.join(dir, YAML_FILE), 'utf8');
  return source.slice(0, source.indexOf(text)).split('\n').length;
};

describe('TFDV schemas in feature-view definitions', () => {
  const expected = schemaFromText(SCHEMA_TEXT);

  it('loads a schema.pbtxt, a binary schema and an inline schema into the same registry message, with the policies', async () => {
    const text = await view(
      repo('validation:\n  schema_file: schemas/driver.pbtxt\n  ingestion: count\n  materialization: warn\n', { 'schemas/driver.pbtxt': SCHEMA_TEXT }),
    );
    expect(text.validation?.ingestion).toBe(registryV1.IngestionValidationPolicy.COUNT);
    expect(text.validation?.materialization).toBe(registryV1.MaterializationValidationPolicy.WARN);
    expect(equals(tfmdV0.SchemaSchema, text.validation?.schema as tfmdV0.Schema, expected)).toBe(true);

    const dir = repo('validation:\n  schema_file: schemas/driver.pb\n');
    mkdirSync(path.join(dir, 'schemas'));
    writeFileSync(path.join(dir, 'schemas/driver.pb'), toBinary(tfmdV0.SchemaSchema, expected));
    const binary = await view(dir);
    expect(equals(tfmdV0.SchemaSchema, binary.validation?.schema as tfmdV0.Schema, expected)).toBe(true);
    expect(binary.validation?.ingestion).toBe(registryV1.IngestionValidationPolicy.UNSPECIFIED);

    const inline = await view(
      repo(`validation:
  schema:
    feature:
      - name: conv_rate
        type: FLOAT
        presence: { min_fraction: 1 }
        float_domain: { min: 0, max: 1 }
        drift_comparator: { jensen_shannon_divergence: { threshold: 0.1 } }
`),
    );
    expect(equals(tfmdV0.SchemaSchema, inline.validation?.schema as tfmdV0.Schema, expected)).toBe(true);

    // The TypeScript form takes the same text.
    const ts = defineFeatureView({
      name: 'v',
      schema: [{ name: 'conv_rate', valueType: 'float' }],
      validation: { schema: SCHEMA_TEXT, materialization: 'warn' },
    });
    expect(equals(tfmdV0.SchemaSchema, ts.validation?.schema as tfmdV0.Schema, expected)).toBe(true);
  });

  it('names the file, line and key of a bad schema or policy', async () => {
    const badText = repo('validation:\n  schema_file: schemas/driver.pbtxt\n', { 'schemas/driver.pbtxt': 'feature {\n  name: "x"\n  presense { }\n}\n' });
    expect(await problemsOf(badText)).toEqual([
      {
        file: YAML_FILE,
        line: lineOf(badText, 'schema_file:'),
        column: expect.any(Number),
        key: 'validation.schema_file',
        message: "schemas/driver.pbtxt:3:3: tensorflow.metadata.v0.Feature has no field 'presense'",
      },
    ]);
    const missing = repo('validation:\n  schema_file: schemas/none.pbtxt\n');
    expect((await problemsOf(missing))[0]?.message).toMatch(/^cannot read schemas\/none\.pbtxt: ENOENT/);
    const badInline = repo('validation:\n  schema:\n    feature: [{ name: x, float_domain: { min: low } }]\n');
    const [inlineProblem] = await problemsOf(badInline);
    expect(inlineProblem?.key).toBe('validation.schema');
    expect(inlineProblem?.message).toMatch(/not a TFDV schema: .*FloatDomain\.min/);
    const badPolicy = repo('validation:\n  ingestion: drop\n');
    expect(await problemsOf(badPolicy)).toEqual([
      expect.objectContaining({ key: 'validation.ingestion', line: lineOf(badPolicy, 'ingestion: drop'), message: "'drop' is not one of dead_letter, count" }),
    ]);
  });

  it('adopts a schema into the repo: writes schemas/<view>.pbtxt and points the YAML document at it, the rest of the file kept', async () => {
    const dir = repo('# the team reviews changes to this view\n');
    const before = readFileSync(path.join(dir, YAML_FILE), 'utf8');
    const result = await adoptSchema(dir, 'driver_hourly_stats', expected);
    expect(result).toEqual({ schemaFile: 'schemas/driver_hourly_stats.pbtxt', definitionFile: YAML_FILE, linked: true });
    expect(readFileSync(path.join(dir, 'schemas/driver_hourly_stats.pbtxt'), 'utf8')).toBe(SCHEMA_TEXT);
    const after = readFileSync(path.join(dir, YAML_FILE), 'utf8');
    expect(after).toContain('# yaml-language-server: $schema=');
    expect(after).toContain('validation:\n  schema_file: schemas/driver_hourly_stats.pbtxt\n');
    // Only the added lines differ.
    expect(after.split('\n').filter((l) => !before.split('\n').includes(l))).toEqual(['validation:', '  schema_file: schemas/driver_hourly_stats.pbtxt']);
    const loaded = await view(dir);
    expect(equals(tfmdV0.SchemaSchema, loaded.validation?.schema as tfmdV0.Schema, expected)).toBe(true);
    await expect(adoptSchema(dir, 'driver_hourly_stats', expected, { schemaFile: '../outside.pbtxt' })).rejects.toThrow(/must be inside the repo/);
    await expect(adoptSchema(dir, 'nope', expected)).rejects.toThrow(/defines no feature view 'nope'/);
  });
});
