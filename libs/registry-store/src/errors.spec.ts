import { registryV1 } from '@larder/proto';
import { ISSUES_METADATA_KEY, danglingReferences, formatRegistryIssue, invalidDefinitions, issuesOf, issuesTrailer } from './errors';

const K = registryV1.ObjectKind;

describe('formatRegistryIssue', () => {
  test("names the object once, then the field, then core's complaint", () => {
    const issue = {
      kind: K.FEATURE_VIEW,
      name: 'driver_stats',
      field: 'ttl',
      message: "feature view 'driver_stats' has a negative ttl; use a positive duration, or zero for no limit",
    };
    expect(formatRegistryIssue(issue)).toBe("feature view 'driver_stats': ttl: has a negative ttl; use a positive duration, or zero for no limit");
  });

  test('keeps the rest of a CEL message, and messages that do not open with the object', () => {
    const cel = {
      kind: K.ON_DEMAND_FEATURE_VIEW,
      name: 'odfv',
      field: 'outputs[0].expression',
      message: "on-demand feature view 'odfv' output 'x': syntax error at line 1, column 3: bad",
    };
    expect(formatRegistryIssue(cel)).toBe("on-demand feature view 'odfv': outputs[0].expression: output 'x': syntax error at line 1, column 3: bad");
    expect(formatRegistryIssue({ kind: K.ENTITY, name: 'driver', field: '', message: 'something else' })).toBe("entity 'driver': something else");
  });

  test('an unnamed object is described by the message alone', () => {
    const unnamed = { kind: K.FEATURE_VIEW, name: '', field: 'name', message: 'feature view #2 has no name; every feature view needs one' };
    expect(formatRegistryIssue(unnamed)).toBe('name: feature view #2 has no name; every feature view needs one');
  });
});

describe('invalidDefinitions', () => {
  const issues = [
    { kind: K.FEATURE_VIEW, name: 'a', field: 'ttl', message: "feature view 'a' has a negative ttl" },
    { kind: K.DATA_SOURCE, name: 'src', field: 'kind.file.path', message: "data source 'src' has path 'données/é.parquet' \u2014 odd" },
  ];

  test('lists every issue in the message and round-trips them through printable ASCII metadata', () => {
    const error = invalidDefinitions('rides', issues);
    expect(error.kind).toBe('INVALID');
    expect(error.issues).toEqual(issues);
    expect(error.message).toBe(
      `2 problems in project "rides":\n  - feature view 'a': ttl: has a negative ttl\n  - data source 'src': kind.file.path: has path 'données/é.parquet' \u2014 odd`,
    );
    const trailer = issuesTrailer(error.issues);
    expect(trailer[ISSUES_METADATA_KEY]).toMatch(/^[\x20-\x7e]+$/);
    expect(issuesOf({ metadata: trailer })).toEqual(issues);
  });

  test('leaves the trailer out when it would not fit in gRPC metadata', () => {
    const many = Array.from({ length: 200 }, (_, i) => ({
      kind: K.ENTITY,
      name: `entity_${i}`,
      field: 'join_key',
      message: `entity 'entity_${i}' has an invalid join key`,
    }));
    const error = invalidDefinitions('rides', many);
    expect(issuesTrailer(error.issues)).toEqual({});
    expect(issuesOf({ metadata: issuesTrailer(error.issues) })).toBeUndefined();
    expect(error.message.split('\n')).toHaveLength(201);
  });

  test('dangling references use the same one-line form', () => {
    const error = danglingReferences("entity 'driver'", [
      { kind: K.FEATURE_VIEW, name: 'v', field: 'entities[0]', message: "feature view 'v' references entity 'driver', which is not defined" },
    ]);
    expect(error.kind).toBe('PRECONDITION');
    expect(error.message).toBe("cannot delete entity 'driver': feature view 'v': entities[0]: references entity 'driver', which is not defined");
  });
});
