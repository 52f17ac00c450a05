import { Code, createLogger, RpcError } from '@larder/rpc';
import { createAuditSink } from './audit';
import { parseActionName, parseObjectTypeName } from '@larder/core';
import type { registryV1 } from '@larder/proto';
import { allowAllAuthorizer, compileAuthorizer } from './authorizer';
import type { Action, ObjectRef, ObjectType, PermissionInput, PolicyInput } from './authorizer';
import { ANONYMOUS_OPERATOR } from './principal';
import type { Principal } from './principal';

const noPolicy: PolicyInput = { roles: [], users: [], namespaces: [], serviceAccounts: [], certificateSubjects: [], anyAuthenticated: false };

function permission(p: {
  name: string;
  project?: string;
  types?: ObjectType[];
  patterns?: string[];
  tags?: Record<string, string>;
  actions: Action[];
  policy: Partial<PolicyInput>;
}): PermissionInput {
  return {
    name: p.name,
    types: (p.types ?? []).map((t) => parseObjectTypeName(t) as number),
    namePatterns: p.patterns ?? [],
    requiredTags: p.tags ?? {},
    actions: p.actions.map((a) => parseActionName(a) as number),
    policy: { ...noPolicy, ...p.policy },
    meta: { project: p.project ?? 'p' },
  };
}

const user = (sub: string, groups: string[] = []): Principal => ({ kind: 'token', subject: sub, groups, operator: false, id: `user:${sub}` });
const sa = (ns: string, name: string): Principal => ({
  kind: 'token',
  subject: `system:serviceaccount:${ns}:${name}`,
  groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`],
  namespace: ns,
  serviceAccount: `${ns}/${name}`,
  operator: false,
  id: `sa:${ns}/${name}`,
});
const cert = (cn: string, sans: string[] = []): Principal => ({
  kind: 'certificate',
  subject: cn,
  groups: [],
  certificate: { subject: cn, sans },
  operator: false,
  id: `cert:${cn}`,
});
const anonymous: Principal = { ...ANONYMOUS_OPERATOR, operator: false };
const fv = (name: string, tags?: Record<string, string>, project = 'p'): ObjectRef => ({ project, type: 'feature_view', name, ...(tags && { tags }) });

describe('compileAuthorizer', () => {
  const permissions = [
    permission({
      name: 'risk-readers',
      types: ['feature_view', 'feature_service'],
      patterns: ['risk_*'],
      tags: { team: 'risk' },
      actions: ['describe', 'read_online'],
      policy: { roles: ['risk-analysts'] },
    }),
    permission({ name: 'bob-views', types: ['feature_view'], patterns: ['driver_?tats'], actions: ['read_offline'], policy: { users: ['bob'] } }),
    permission({ name: 'serving-ns', types: ['feature_view'], actions: ['read_online'], policy: { namespaces: ['serving'] } }),
    permission({ name: 'trainer', actions: ['materialize'], policy: { serviceAccounts: ['ml/trainer'] } }),
    permission({
      name: 'ingest-cert',
      types: ['feature_view'],
      patterns: ['events_*'],
      actions: ['write_online', 'write_offline'],
      policy: { certificateSubjects: ['ingest', 'spiffe://cluster/ns/kafka/sa/bridge'] },
    }),
    permission({ name: 'everyone-describes', types: ['entity'], actions: ['describe'], policy: { anyAuthenticated: true } }),
    permission({ name: 'other-project', project: 'q', actions: ['delete'], policy: { users: ['carol'] } }),
  ];
  const authorizer = compileAuthorizer(permissions, 42n);

  it('takes the generated Permission messages as they are', () => {
    const generated: registryV1.Permission[] = [];
    expect(compileAuthorizer(generated, 1n).version).toBe(1n);
  });

  it('keeps the registry version it was compiled from', () => {
    expect(authorizer.version).toBe(42n);
  });

  it.each<[string, Principal, Action, ObjectRef, boolean]>([
    // roles, types, globs, required tags, actions
    ['role + glob + tags', user('ann', ['risk-analysts']), 'read_online', fv('risk_scores', { team: 'risk' }), true],
    [
      'role, feature service type',
      user('ann', ['risk-analysts']),
      'describe',
      { project: 'p', type: 'feature_service', name: 'risk_model', tags: { team: 'risk', extra: 'x' } },
      true,
    ],
    ['role, type not covered', user('ann', ['risk-analysts']), 'describe', { project: 'p', type: 'entity', name: 'risk_entity', tags: { team: 'risk' } }, true], // via everyone-describes
    [
      'role, data source not covered',
      user('ann', ['risk-analysts']),
      'describe',
      { project: 'p', type: 'data_source', name: 'risk_src', tags: { team: 'risk' } },
      false,
    ],
    ['role, name outside the glob', user('ann', ['risk-analysts']), 'read_online', fv('fraud_scores', { team: 'risk' }), false],
    ['role, required tag missing', user('ann', ['risk-analysts']), 'read_online', fv('risk_scores'), false],
    ['role, required tag differs', user('ann', ['risk-analysts']), 'read_online', fv('risk_scores', { team: 'fraud' }), false],
    ['role, action not granted', user('ann', ['risk-analysts']), 'read_offline', fv('risk_scores', { team: 'risk' }), false],
    ['role not held', user('ann', ['analysts']), 'read_online', fv('risk_scores', { team: 'risk' }), false],
    // users and ?-globs
    ['user + ? glob', user('bob'), 'read_offline', fv('driver_stats'), true],
    ['user, ? needs one character', user('bob'), 'read_offline', fv('driver_tats'), false],
    ['other user', user('bobby'), 'read_offline', fv('driver_stats'), false],
    ['user name is not a role', user('x', ['bob']), 'read_offline', fv('driver_stats'), false],
    // namespaces and service accounts
    ['namespace', sa('serving', 'kserve'), 'read_online', fv('anything'), true],
    ['other namespace', sa('ml', 'kserve'), 'read_online', fv('anything'), false],
    ['service account, every type', sa('ml', 'trainer'), 'materialize', fv('driver_stats'), true],
    ['service account, other name', sa('ml', 'evaluator'), 'materialize', fv('driver_stats'), false],
    // certificate subjects: CN or SAN
    ['certificate CN', cert('ingest'), 'write_online', fv('events_clicks'), true],
    ['certificate SAN', cert('bridge-7', ['spiffe://cluster/ns/kafka/sa/bridge']), 'write_offline', fv('events_clicks'), true],
    ['certificate, other subject', cert('ingester'), 'write_online', fv('events_clicks'), false],
    ['token subject is not a certificate subject', user('ingest'), 'write_online', fv('events_clicks'), false],
    // any_authenticated, anonymous, projects
    ['any authenticated', cert('whoever'), 'describe', { project: 'p', type: 'entity', name: 'driver' }, true],
    ['anonymous is never covered by a policy', anonymous, 'describe', { project: 'p', type: 'entity', name: 'driver' }, false],
    ['permissions are per project', user('carol'), 'delete', fv('x', undefined, 'q'), true],
    ['... and do not leak to another', user('carol'), 'delete', fv('x', undefined, 'p'), false],
    ['default deny: no permission at all in a project', user('bob'), 'read_offline', fv('driver_stats', undefined, 'empty'), false],
  ])('%s', (_label, principal, action, object, expected) => {
    expect(authorizer.allowed(principal, action, object)).toBe(expected);
  });

  it('lets operators do anything, even in a project without permissions (the bootstrap)', () => {
    const operator: Principal = { ...user('root'), operator: true };
    expect(authorizer.allowed(operator, 'manage_permissions', { project: 'new', type: 'permission', name: 'first' })).toBe(true);
    expect(compileAuthorizer([], 1n).allowed(operator, 'create', { project: 'new', type: 'project', name: 'new' })).toBe(true);
    expect(compileAuthorizer([], 1n).allowed(user('bob'), 'create', { project: 'new', type: 'project', name: 'new' })).toBe(false);
  });

  it('mode none: the anonymous operator and the allow-all authorizer allow everything', () => {
    expect(authorizer.allowed(ANONYMOUS_OPERATOR, 'delete', fv('risk_scores'))).toBe(true);
    expect(allowAllAuthorizer(3n).allowed(anonymous, 'delete', fv('x'))).toBe(true);
  });

  it('ignores unspecified actions and kinds instead of widening a permission', () => {
    const odd = compileAuthorizer([{ ...permission({ name: 'odd', actions: [], policy: { users: ['bob'] } }), actions: [0], types: [0] }], 1n);
    for (const action of ['describe', 'delete'] as const) expect(odd.allowed(user('bob'), action, fv('x'))).toBe(false);
  });

  it('re-evaluates a principal in a new version: a permission removed no longer grants', () => {
    const bob = user('bob');
    expect(authorizer.allowed(bob, 'read_offline', fv('driver_stats'))).toBe(true);
    const next = compileAuthorizer(
      permissions.filter((p) => p.name !== 'bob-views'),
      43n,
    );
    expect(next.allowed(bob, 'read_offline', fv('driver_stats'))).toBe(false);
    expect(authorizer.allowed(bob, 'read_offline', fv('driver_stats'))).toBe(true); // the old version is unchanged
  });

  it('require throws PERMISSION_DENIED naming the action and the object, and audits the denial', () => {
    const lines: string[] = [];
    const audit = createAuditSink({ service: 'online-serving', logger: createLogger({ service: 'online-serving', write: (l) => lines.push(l) }) });
    const bob = user('bob');
    expect(() => authorizer.require(bob, 'read_offline', [fv('driver_stats')], audit, 'req-1')).not.toThrow();
    let error: unknown;
    try {
      authorizer.require(bob, 'read_online', [fv('driver_stats', { secret: 'tag' }), fv('other')], audit, 'req-2');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RpcError);
    expect((error as RpcError).code).toBe(Code.PERMISSION_DENIED);
    expect((error as RpcError).message).toBe('principal user:bob may not read_online feature_view "driver_stats" in project "p"');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 'warn',
      msg: 'audit',
      service: 'online-serving',
      identity: 'user:bob',
      action: 'read_online',
      objects: [{ project: 'p', type: 'feature_view', name: 'driver_stats' }],
      outcome: 'denied',
      reason: 'principal user:bob may not read_online feature_view "driver_stats" in project "p"',
      requestId: 'req-2',
    });
    expect(lines[0]).not.toContain('secret'); // the object's tags are its data, not written
  });

  it('names a project as the object of project-level actions', () => {
    expect(() => authorizer.require(user('bob'), 'create', [{ project: 'p', type: 'project', name: 'p' }])).toThrow(
      'principal user:bob may not create project "p"',
    );
  });
});
