import { create } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import {
  ACTION_NAMES,
  actionName,
  globMatches,
  OBJECT_TYPE_NAMES,
  objectTypeName,
  parseActionName,
  parseObjectTypeName,
  PERMISSION_LIMITS,
} from './permissions';
import type { RegistryIssue, RegistrySet } from './registry-set';
import { driverStatsSet } from './test-fixtures';
import { validateRegistrySet } from './validate';

const A = registryV1.Action;
const K = registryV1.ObjectKind;

describe('permission names', () => {
  it('names every action of the contract and reads the names back', () => {
    const actions = Object.values(A).filter((v): v is registryV1.Action => typeof v === 'number' && v !== A.UNSPECIFIED);
    expect(actions.map((a) => actionName(a))).toEqual(ACTION_NAMES);
    expect(ACTION_NAMES).toEqual([
      'describe',
      'create',
      'update',
      'delete',
      'read_online',
      'read_offline',
      'write_online',
      'write_offline',
      'materialize',
      'manage_permissions',
    ]);
    for (const action of actions) expect(parseActionName(actionName(action)!)).toBe(action);
    expect(actionName(A.READ_ONLINE)).toBe('read_online');
  });

  it('names every object kind of the contract as a permission type', () => {
    const kinds = Object.values(K).filter((v): v is registryV1.ObjectKind => typeof v === 'number' && v !== K.UNSPECIFIED);
    expect(kinds.map((k) => objectTypeName(k))).toEqual(OBJECT_TYPE_NAMES);
    expect(OBJECT_TYPE_NAMES).toEqual([
      'project',
      'entity',
      'data_source',
      'feature_view',
      'on_demand_feature_view',
      'feature_service',
      'saved_dataset',
      'permission',
    ]);
    for (const kind of kinds) expect(parseObjectTypeName(objectTypeName(kind)!)).toBe(kind);
  });

  it('has no name for UNSPECIFIED or numbers the contract does not define, and reads only exact names', () => {
    expect(actionName(A.UNSPECIFIED)).toBeUndefined();
    expect(actionName(99 as registryV1.Action)).toBeUndefined();
    expect(objectTypeName(K.UNSPECIFIED)).toBeUndefined();
    expect(objectTypeName(42 as registryV1.ObjectKind)).toBeUndefined();
    for (const text of ['READ_ONLINE', 'read-online', 'ACTION_READ_ONLINE', 'unspecified', '', 'toString', '__proto__']) {
      expect([text, parseActionName(text)]).toEqual([text, undefined]);
    }
    for (const text of ['feature-view', 'FeatureView', 'feature_views', 'fv', 'constructor']) {
      expect([text, parseObjectTypeName(text)]).toEqual([text, undefined]);
    }
  });
});

describe('globMatches', () => {
  it('matches * as any run and ? as one character', () => {
    const cases: Array<[string, string, boolean]> = [
      ['*', '', true],
      ['*', 'anything', true],
      ['driver_*', 'driver_hourly_stats', true],
      ['driver_*', 'driver_', true],
      ['driver_*', 'rider_stats', false],
      ['*_stats', 'driver_hourly_stats', true],
      ['*_stats', 'driver_hourly_stats_v2', false],
      ['d?iver', 'driver', true],
      ['d?iver', 'dver', false],
      ['a*b*c', 'aXXbYYc', true],
      ['a*b*c', 'aXXcYYb', false],
      ['exact', 'exact', true],
      ['exact', 'exactly', false],
      ['', '', true],
      ['', 'x', false],
      ['**', 'x', true],
      ['?', '\u6570', true],
      ['.', 'x', false],
    ];
    for (const [pattern, name, expected] of cases) expect([pattern, name, globMatches(pattern, name)]).toEqual([pattern, name, expected]);
  });

  it('stays cheap on the patterns that make regular expressions explode', () => {
    // a*a*a*...a*b against aaaa...a: a backtracking regex takes exponential
    // time; here it is at most pattern x name steps. Counted, not timed: the
    // same answer for a pattern of the maximum length.
    const pattern = `${'a*'.repeat(PERMISSION_LIMITS.maxPatternChars / 2 - 1)}b`;
    expect(pattern.length).toBeLessThanOrEqual(PERMISSION_LIMITS.maxPatternChars);
    expect(globMatches(pattern, 'a'.repeat(10_000))).toBe(false);
    expect(globMatches(pattern, `${'a'.repeat(10_000)}b`)).toBe(true);
  });
});

describe('validateRegistrySet: permissions', () => {
  const perm = (s: RegistrySet): registryV1.Permission => s.permissions[0]!;

  function issuesAfter(mutate: (p: registryV1.Permission, s: RegistrySet) => void): RegistryIssue[] {
    const set = driverStatsSet();
    mutate(perm(set), set);
    return validateRegistrySet(set);
  }

  function only(mutate: (p: registryV1.Permission, s: RegistrySet) => void): { field: string; message: string } {
    const issues = issuesAfter(mutate);
    expect(issues.map((i) => `${i.field}: ${i.message}`)).toHaveLength(1);
    const issue = issues[0]!;
    expect(issue.kind).toBe(K.PERMISSION);
    return { field: issue.field, message: issue.message };
  }

  it('accepts the fixture permission, and one with any_authenticated and every list empty but actions', () => {
    expect(validateRegistrySet(driverStatsSet())).toEqual([]);
    expect(
      issuesAfter((p) => {
        p.types = [];
        p.namePatterns = [];
        p.requiredTags = {};
        p.policy = create(registryV1.PolicySchema, { anyAuthenticated: true });
      }),
    ).toEqual([]);
  });

  it('checks the name like other named objects: required, a loose name, unique', () => {
    expect(issuesAfter((p) => (p.name = ''))).toEqual([
      { kind: K.PERMISSION, name: '', field: 'name', message: 'permission #1 has no name; every permission needs one' },
    ]);
    expect(only((p) => (p.name = 'team readers'))).toEqual({
      field: 'name',
      message: expect.stringMatching(/^permission 'team readers' has an invalid name; use letters, digits, underscores, dots and hyphens/),
    });
    expect(only((p, s) => s.permissions.push({ ...p }))).toEqual({
      field: 'name',
      message: "permission 'driver-readers' is defined more than once; permission names must be unique in the project",
    });
  });

  it('needs at least one action, none unspecified or unknown or repeated', () => {
    expect(only((p) => (p.actions = []))).toEqual({
      field: 'actions',
      message: expect.stringMatching(/grants no actions; list at least one of describe, create, .*manage_permissions$/),
    });
    expect(only((p) => p.actions.push(A.UNSPECIFIED))).toEqual({
      field: 'actions[2]',
      message: expect.stringMatching(/has ACTION_UNSPECIFIED \(not set\); use one of describe/),
    });
    expect(only((p) => p.actions.push(77 as registryV1.Action))).toEqual({
      field: 'actions[2]',
      message: expect.stringMatching(/has unknown action 77; use one of/),
    });
    expect(only((p) => p.actions.push(A.DESCRIBE))).toEqual({
      field: 'actions[2]',
      message: "permission 'driver-readers' lists action 'describe' more than once",
    });
  });

  it('refuses unspecified, unknown and repeated types', () => {
    expect(only((p) => (p.types = [K.UNSPECIFIED]))).toEqual({
      field: 'types[0]',
      message: expect.stringMatching(/has OBJECT_KIND_UNSPECIFIED \(not set\); use one of project, entity, data_source, .*permission$/),
    });
    expect(only((p) => (p.types = [K.ENTITY, 12 as registryV1.ObjectKind]))).toEqual({
      field: 'types[1]',
      message: expect.stringMatching(/has unknown type 12/),
    });
    expect(only((p) => (p.types = [K.FEATURE_VIEW, K.FEATURE_VIEW]))).toEqual({
      field: 'types[1]',
      message: expect.stringMatching(/lists type 'feature_view' more than once/),
    });
  });

  it('allows only * and ? globs over name characters in name_patterns', () => {
    for (const ok of ['*', 'driver_*', 'v?.?', 'team-a.*', 'proj\u00e9t_*']) expect([ok, issuesAfter((p) => (p.namePatterns = [ok]))]).toEqual([ok, []]);
    for (const bad of ['driver_[a-z]', '.+', '^driver$', 'a|b', '{a,b}', 'a b', '../x', 'a\\*']) {
      expect([bad, only((p) => (p.namePatterns = ['ok_*', bad]))]).toEqual([
        bad,
        {
          field: 'name_patterns[1]',
          message: expect.stringMatching(
            /characters other than letters, digits, '_', '.', '-' and the wildcards '\*' and '\?' \(patterns are globs, not regular expressions\)$/,
          ),
        },
      ]);
    }
    expect(only((p) => (p.namePatterns = ['']))).toEqual({
      field: 'name_patterns[0]',
      message: expect.stringMatching(/has an empty name pattern \(name_patterns entry #1\); use '\*'/),
    });
  });

  it('bounds the number and length of patterns, tags and identities (hostile lists)', () => {
    const L = PERMISSION_LIMITS;
    expect(only((p) => (p.namePatterns = Array.from({ length: 100_000 }, (_, i) => `v${i}`)))).toEqual({
      field: 'name_patterns',
      message: expect.stringMatching(new RegExp(`has 100000 name patterns, more than the ${L.maxNamePatterns} allowed`)),
    });
    const long = only((p) => (p.namePatterns = ['*'.repeat(1_000_000)]));
    expect(long).toEqual({ field: 'name_patterns[0]', message: expect.stringMatching(/has a name pattern of 1000000 characters, more than the 256 allowed$/) });
    expect(only((p) => (p.requiredTags = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, 'v']))))).toEqual({
      field: 'required_tags',
      message: expect.stringMatching(/has 1000 required tags, more than the 32 allowed/),
    });
    expect(only((p) => (p.requiredTags = { team: 'x'.repeat(300) }))).toEqual({
      field: 'required_tags.team',
      message: expect.stringMatching(/tag value of 300 characters/),
    });
    expect(only((p) => (p.requiredTags = { ['k'.repeat(5000)]: 'v' }))).toEqual({
      field: 'required_tags',
      message: expect.stringMatching(/tag key of 5000 characters/),
    });
    expect(only((p) => (p.requiredTags = { '': 'v' }))).toEqual({ field: 'required_tags', message: expect.stringMatching(/required tag with an empty key/) });
    expect(only((p) => (p.policy!.users = Array.from({ length: 10_000 }, (_, i) => `u${i}`)))).toEqual({
      field: 'policy.users',
      message: expect.stringMatching(new RegExp(`lists 10000 users, more than the ${L.maxIdentities} allowed`)),
    });
    const longRole = only((p) => (p.policy!.roles = ['r'.repeat(100_000)]));
    expect(longRole).toEqual({ field: 'policy.roles[0]', message: expect.stringMatching(/has role of 100000 characters, more than the 256 allowed/) });
    // Never echo a huge value back.
    expect(longRole.message.length).toBeLessThan(200);
    // A million repeated enum entries end in a handful of issues, not a million.
    expect(issuesAfter((p) => (p.actions = Array.from({ length: 1_000_000 }, () => A.DESCRIBE))).length).toBeLessThanOrEqual(8);
  });

  it('needs a policy that names someone', () => {
    const none = /names no one; set policy.roles, users, namespaces, service_accounts, certificate_subjects, or any_authenticated: true/;
    expect(only((p) => delete p.policy)).toEqual({ field: 'policy', message: expect.stringMatching(none) });
    expect(only((p) => (p.policy = { ...p.policy!, roles: [], serviceAccounts: [] }))).toEqual({ field: 'policy', message: expect.stringMatching(none) });
  });

  it('checks identity strings: not empty, no control characters or padding, Kubernetes names where they are ones', () => {
    expect(only((p) => (p.policy!.roles = ['']))).toEqual({ field: 'policy.roles[0]', message: expect.stringMatching(/has role "" \(empty\)/) });
    expect(only((p) => (p.policy!.users = ['alice\nforged audit line']))).toEqual({
      field: 'policy.users[0]',
      message: expect.stringMatching(/containing control characters/),
    });
    expect(only((p) => (p.policy!.users = [' alice']))).toEqual({
      field: 'policy.users[0]',
      message: expect.stringMatching(/with leading or trailing spaces/),
    });
    expect(issuesAfter((p) => (p.policy!.certificateSubjects = ['CN=ingest, O=Larder', 'ingest.example.com']))).toEqual([]);
    expect(issuesAfter((p) => (p.policy!.users = ['system:serviceaccount:ml:trainer', 'alice@example.com']))).toEqual([]);
    expect(issuesAfter((p) => (p.policy!.namespaces = ['serving', 'ml-team-2']))).toEqual([]);
    expect(only((p) => (p.policy!.namespaces = ['Serving']))).toEqual({
      field: 'policy.namespaces[0]',
      message: expect.stringMatching(/'Serving', which is not a Kubernetes namespace name/),
    });
    for (const bad of ['serving', 'serving/', '/x', 'Serving/x', 'a/b/c', 'serving/kserve risk']) {
      expect([bad, only((p) => (p.policy!.serviceAccounts = [bad]))]).toEqual([
        bad,
        { field: 'policy.service_accounts[0]', message: expect.stringMatching(/which is not '<namespace>\/<name>' of a Kubernetes service account/) },
      ]);
    }
  });
});
