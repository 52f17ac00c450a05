import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { parseAllDocuments } from 'yaml';
import { SCHEMA_FILE, definitionsJsonSchema, definitionsJsonSchemaText } from './json-schema';
import { DOCUMENT_SPECS, checkSpec } from './spec';

const ROOT = path.resolve(__dirname, '../../..');
// strictRequired is off: oneOf branches name keys declared by the enclosing object, which is valid draft-07.
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
const validate = ajv.compile(definitionsJsonSchema());

/** Every YAML definition document under examples/, with where it came from. */
function exampleDocuments(): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  const examples = path.join(ROOT, 'examples');
  for (const dir of readdirSync(examples, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    for (const file of readdirSync(path.join(examples, dir.name)).filter((f) => /\.ya?ml$/.test(f) && f !== 'larder.yaml')) {
      const text = readFileSync(path.join(examples, dir.name, file), 'utf8');
      parseAllDocuments(text).forEach((doc, i) => out.push([`${dir.name}/${file}#${i}`, doc.toJS()]));
    }
  }
  return out;
}

/** What the loader says about a document: problems, as in loadYamlDefinitions. */
function loaderAccepts(doc: Record<string, unknown>): boolean {
  const { kind, ...rest } = doc;
  const spec = typeof kind === 'string' ? DOCUMENT_SPECS[kind] : undefined;
  return spec !== undefined && checkSpec(rest, spec).length === 0;
}

describe('larder-definitions.schema.json', () => {
  it('is the committed file, up to date with the loader (regenerate: npx tsx libs/feature-repo/src/write-schema.ts)', () => {
    expect(readFileSync(path.join(ROOT, SCHEMA_FILE), 'utf8')).toBe(definitionsJsonSchemaText());
  });

  it('is referenced by the example YAML files', () => {
    const text = readFileSync(path.join(ROOT, 'examples/driver-stats/driver_stats.yaml'), 'utf8');
    const ref = /# yaml-language-server: \$schema=(\S+)/.exec(text)?.[1];
    expect(ref).toBeDefined();
    expect(path.resolve(ROOT, 'examples/driver-stats', ref as string)).toBe(path.join(ROOT, SCHEMA_FILE));
  });

  const documents = exampleDocuments();
  it('covers the examples', () => expect(documents.length).toBeGreaterThanOrEqual(9));

  it.each(documents)('accepts %s', (_where, doc) => {
    expect(validate(doc) ? [] : validate.errors).toEqual([]);
    expect(loaderAccepts(doc as Record<string, unknown>)).toBe(true);
  });

  // Bad documents the schema and the loader must both reject.
  const view = { kind: 'FeatureView', name: 'v', schema: [{ name: 'x', value_type: 'int64' }], batch_source: 's' };
  const rejected: Array<[string, Record<string, unknown>]> = [
    ['an unknown key', { ...view, tll: '1d' }],
    ['an unknown nested key', { ...view, schema: [{ name: 'x', value_type: 'int64', dtype: 'int64' }] }],
    ['an unknown kind', { ...view, kind: 'FeatureVeiw' }],
    ['no kind', { name: 'v' }],
    ['a missing required key', { kind: 'Entity', name: 'e' }],
    ['an unknown value type', { kind: 'Entity', name: 'e', value_type: 'integer' }],
    ['a bad duration', { ...view, ttl: 'one day' }],
    ['a wrong type', { ...view, entities: 'driver' }],
    ['a non-string tag', { ...view, tags: { team: 7 } }],
    ['both table and query', { kind: 'BigQuerySource', name: 'b', table: 't', query: 'q' }],
    [
      'a source with two inputs',
      { kind: 'OnDemandFeatureView', name: 'o', sources: [{ request_source: 'r', feature_view: { feature_view: 'v' } }], outputs: [] },
    ],
    ['a key of another kind', { kind: 'Entity', name: 'e', value_type: 'int64', ttl: '1d' }],
    ['an unknown permission action', { kind: 'Permission', name: 'p', actions: ['read-online'], policy: { roles: ['r'] } }],
    ['an unknown permission type', { kind: 'Permission', name: 'p', types: ['FeatureView'], actions: ['describe'], policy: { roles: ['r'] } }],
    ['a permission without a policy', { kind: 'Permission', name: 'p', actions: ['describe'] }],
    ['an unknown policy key', { kind: 'Permission', name: 'p', actions: ['describe'], policy: { groups: ['r'] } }],
  ];
  it.each(rejected)('rejects %s, as the loader does', (_what, doc) => {
    expect(validate(doc)).toBe(false);
    expect(loaderAccepts(doc)).toBe(false);
  });

  it('accepts a permission with every key, as the loader does', () => {
    const permission = {
      kind: 'Permission',
      name: 'team-risk-readers',
      types: ['feature_view', 'feature_service'],
      name_patterns: ['risk_*'],
      required_tags: { team: 'risk' },
      actions: ['describe', 'read_online', 'read_offline'],
      policy: {
        roles: ['risk-analysts'],
        users: ['alice'],
        namespaces: ['serving'],
        service_accounts: ['serving/kserve-risk'],
        certificate_subjects: ['ingest'],
        any_authenticated: false,
      },
      description: 'd',
      tags: { a: 'b' },
      owner: 'risk@example.com',
    };
    expect(validate(permission) ? [] : validate.errors).toEqual([]);
    expect(loaderAccepts(permission)).toBe(true);
  });

  it('accepts a stream-fed view without a batch_source, as the loader does', () => {
    const { batch_source: _none, ...streamFed } = { ...view, stream_source: 'k' };
    expect(validate(streamFed) ? [] : validate.errors).toEqual([]);
    expect(loaderAccepts(streamFed)).toBe(true);
  });

  it('accepts every key the loader accepts, for every kind', () => {
    const schema = definitionsJsonSchema() as { allOf: Array<{ then: { properties: Record<string, unknown> } }> };
    const kinds = Object.keys(DOCUMENT_SPECS);
    expect(schema.allOf).toHaveLength(kinds.length);
    kinds.forEach((kind, i) => {
      expect(Object.keys(schema.allOf[i]?.then.properties ?? {}).sort()).toEqual(['kind', ...Object.keys(DOCUMENT_SPECS[kind]?.properties ?? {})].sort());
    });
  });
});
