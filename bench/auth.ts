// `npm run bench -- auth`: what authentication and authorization add to a call, in process.
// The authorizer is compiled from 200 Permission objects and asked what online serving asks
// for a 1 x 50 request (read_online on its 5 feature views), and for 50 objects (one check per
// feature, the worst a handler could do); beside it the no-auth floor (mode none: the anonymous
// operator). Authentication: a cached token (hash + LRU lookup) and a full RS256 verification.
import { create } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import { ANONYMOUS_OPERATOR, allowAllAuthorizer, authConfigSchema, compileAuthorizer, createAuthenticator } from '@larder/auth';
import type { Action, Authorizer, ObjectRef, Principal } from '@larder/auth';
import { loadConfig, silentLogger } from '@larder/rpc';
import { TestIssuer } from '@larder/testing';
import type { BenchRecord } from './table';

const { Action: A, ObjectKind: K } = registryV1;

/** 200 permissions of one project, the shapes a shared cluster's teams write: globs, tags, roles, namespaces, service accounts. */
function permissionSet(): registryV1.Permission[] {
  const out: registryV1.Permission[] = [];
  for (let i = 0; i < 200; i++) {
    const team = `team${i % 40}`;
    out.push(
      create(registryV1.PermissionSchema, {
        name: `perm-${i}`,
        types: i % 3 === 0 ? [K.FEATURE_VIEW, K.FEATURE_SERVICE] : i % 3 === 1 ? [K.FEATURE_VIEW] : [],
        namePatterns: i % 4 === 0 ? [`${team}_*`] : i % 4 === 1 ? [`*_${team}`, `${team}_v?_*`] : i % 4 === 2 ? [`${team}_*_stats*`] : [],
        requiredTags: i % 5 === 0 ? { team } : {},
        actions: i % 2 === 0 ? [A.DESCRIBE, A.READ_ONLINE] : [A.READ_OFFLINE, A.MATERIALIZE, A.WRITE_ONLINE],
        policy: create(registryV1.PolicySchema, {
          roles: [`${team}-readers`, `${team}-admins`],
          namespaces: i % 7 === 0 ? [`ns-${team}`] : [],
          serviceAccounts: i % 11 === 0 ? [`serving/${team}-model`] : [],
          users: i % 13 === 0 ? [`user-${i}@example.com`] : [],
        }),
        meta: create(registryV1.ObjectMetaSchema, { project: 'shared' }),
      }),
    );
  }
  // The grant the benchmark's caller actually uses, last so a linear scan would pay for all the others.
  out.push(
    create(registryV1.PermissionSchema, {
      name: 'drivers-online',
      types: [K.FEATURE_VIEW],
      namePatterns: ['driver_*'],
      requiredTags: { domain: 'mobility' },
      actions: [A.READ_ONLINE],
      policy: create(registryV1.PolicySchema, { serviceAccounts: ['serving/kserve-drivers'] }),
      meta: create(registryV1.ObjectMetaSchema, { project: 'shared' }),
    }),
  );
  return out;
}

const caller: Principal = Object.freeze({
  kind: 'token',
  subject: 'system:serviceaccount:serving:kserve-drivers',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:serving', 'team3-readers', 'team17-readers'],
  namespace: 'serving',
  serviceAccount: 'serving/kserve-drivers',
  operator: false,
  id: 'sa:serving/kserve-drivers',
});

const views = (n: number): ObjectRef[] =>
  Array.from({ length: n }, (_, i) => ({
    project: 'shared',
    type: 'feature_view' as const,
    name: `driver_hourly_${i}`,
    tags: { domain: 'mobility', owner: 'team3' },
  }));

/**
 * Mean ns per call of the median of `rounds` short timed batches, after a warm-up. Short
 * batches, so that on a shared, loaded machine most of them run without being descheduled.
 */
function measure(fn: () => void, perBatch: number, rounds = 201): { ns: number } {
  for (let i = 0; i < perBatch; i++) fn();
  const batches: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) fn();
    batches.push(Number(process.hrtime.bigint() - start) / perBatch);
  }
  batches.sort((a, b) => a - b);
  return { ns: batches[Math.floor(batches.length / 2)] as number };
}

/** p50/p99 of single timed calls (each includes ~50 ns of hrtime). */
function latencies(fn: () => void, calls: number): { p50_us: number; p99_us: number } {
  const samples = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    const start = process.hrtime.bigint();
    fn();
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  samples.sort();
  return { p50_us: round(samples[Math.floor(calls * 0.5)] as number, 3), p99_us: round(samples[Math.floor(calls * 0.99)] as number, 3) };
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function checkRecord(workload: string, authorizer: Authorizer, principal: Principal, action: Action, objects: ObjectRef[], floor = false): BenchRecord {
  let sink = 0;
  const run = () => {
    authorizer.require(principal, action, objects);
    sink++;
  };
  const { ns } = measure(run, Math.ceil(10_000 / objects.length));
  const lat = latencies(run, 100_000);
  if (sink === 0) throw new Error('unreachable');
  return {
    workload,
    objects: objects.length,
    ns_per_request: round(ns),
    ns_per_check: round(ns / objects.length, 2),
    checks_per_s: Math.round((1e9 / ns) * objects.length),
    p50_us: lat.p50_us,
    p99_us: lat.p99_us,
    ...(floor && { floor: true }),
  };
}

export async function runAuthBenchmark(): Promise<BenchRecord[]> {
  const records: BenchRecord[] = [];
  const permissions = permissionSet();

  const compileStart = process.hrtime.bigint();
  const authorizer = compileAuthorizer(permissions, 1n);
  const compileMs = Number(process.hrtime.bigint() - compileStart) / 1e6;

  // The grants are computed on a principal's first check; show they allow what they should first.
  if (!authorizer.allowed(caller, 'read_online', views(1)[0] as ObjectRef)) throw new Error('benchmark caller should be allowed');
  if (authorizer.allowed(caller, 'read_online', { project: 'shared', type: 'feature_view', name: 'driver_x' }))
    throw new Error('untagged view should be denied');

  records.push(checkRecord('no auth floor (mode none), 1x50 = 5 views', allowAllAuthorizer(1n), ANONYMOUS_OPERATOR, 'read_online', views(5), true));
  records.push(checkRecord('anonymous operator on the compiled set, 5 views', authorizer, ANONYMOUS_OPERATOR, 'read_online', views(5), true));
  records.push(checkRecord('authorize 1x50: read_online on 5 views, 201 permissions', authorizer, caller, 'read_online', views(5)));
  records.push(checkRecord('authorize 50 objects (one check per feature), 201 permissions', authorizer, caller, 'read_online', views(50)));

  // A principal seen for the first time in this version: its grants are computed from all 201 permissions.
  {
    let i = 0;
    const { ns } = measure(
      () => {
        const fresh: Principal = { ...caller, id: `sa:serving/p${i++}` };
        authorizer.allowed(fresh, 'read_online', views(1)[0] as ObjectRef);
      },
      50,
      41,
    );
    records.push({
      workload: 'first check of a new principal (grants over 201 permissions)',
      ns_per_request: round(ns),
      compile_201_permissions_ms: round(compileMs, 2),
    });
  }

  // Authentication against a real issuer over HTTP (keys fetched once).
  const issuer = await TestIssuer.start();
  try {
    const config = loadConfig(authConfigSchema(), { overrides: { auth: { modes: ['oidc'], oidc: { issuer: issuer.issuer, audiences: ['larder'] } } } }).auth;
    const authenticator = createAuthenticator(config, silentLogger());
    const token = await issuer.serviceAccountToken({ namespace: 'serving', name: 'kserve-drivers', groups: ['team3-readers'] });
    const header = { authorization: `Bearer ${token}` };
    await authenticator.authenticate(header);
    const cachedNs = await measureAsync(() => authenticator.authenticate(header), 500);
    records.push({
      workload: 'authenticate: cached token (SHA-256 + LRU)',
      token_bytes: token.length,
      ns_per_request: round(cachedNs),
      requests_per_s: Math.round(1e9 / cachedNs),
    });

    const fresh = await Promise.all(Array.from({ length: 1000 }, (_, i) => issuer.issue({ sub: `user-${i}` })));
    let k = 0;
    const verifyNs = await measureAsync(() => authenticator.authenticate({ authorization: `Bearer ${fresh[k++ % fresh.length] as string}` }), 20, 41);
    records.push({
      workload: 'authenticate: new token (RS256 verify, claims, principal)',
      ns_per_request: round(verifyNs),
      requests_per_s: Math.round(1e9 / verifyNs),
    });
  } finally {
    await issuer.close();
  }
  return records;
}

async function measureAsync(fn: () => Promise<unknown>, perBatch: number, rounds = 51): Promise<number> {
  for (let i = 0; i < Math.min(perBatch, 1000); i++) await fn();
  const batches: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) await fn();
    batches.push(Number(process.hrtime.bigint() - start) / perBatch);
  }
  batches.sort((a, b) => a - b);
  return batches[Math.floor(batches.length / 2)] as number;
}
