// Materialization with authentication and Permission objects on: who may start, follow,
// list and cancel jobs, with tokens from a real issuer.
import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { materializationV1, registryV1 } from '@larder/proto';
import { Code, createClient } from '@larder/rpc';
import type { RpcClient } from '@larder/rpc';
import { rpcRejection as failure, TestIssuer } from '@larder/testing';
import { startHarness, ts, WINDOW, writeParquet } from './testing';
import type { Harness } from './testing';
import path from 'node:path';

jest.setTimeout(60_000);

const K = registryV1.ObjectKind;
const A = registryV1.Action;
type Jobs = RpcClient<typeof materializationV1.MaterializationService>;

let h: Harness;
let issuer: TestIssuer;
const clients: Jobs[] = [];
let alice: Jobs;
let bob: Jobs;

const permission = (name: string, init: Omit<MessageInitShape<typeof registryV1.PermissionSchema>, 'name' | '$typeName'>) =>
  create(registryV1.PermissionSchema, { ...init, name } as MessageInitShape<typeof registryV1.PermissionSchema>);

function as(token: string | undefined): Jobs {
  const client = createClient(materializationV1.MaterializationService, h.address, { ...(token !== undefined && { token }), defaultTimeoutMs: 10_000 });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  issuer = await TestIssuer.start();
  h = await startHarness({
    online: { type: 'sqlite' },
    offline: { type: 'duckdb' },
    env: { LARDER_AUTH_MODES: 'oidc', LARDER_AUTH_OIDC_ISSUER: issuer.issuer, LARDER_AUTH_OIDC_AUDIENCES: 'larder' },
  });
  await writeParquet(path.join(h.dir, 'driver.parquet'), 200, 10);
  await h.registry.applyRegistry({
    project: h.project,
    permissions: [
      permission('alice-materializes-stats', {
        types: [K.FEATURE_VIEW],
        namePatterns: ['driver_stats'],
        actions: [A.MATERIALIZE, A.DESCRIBE],
        policy: { users: ['alice'] },
      }),
      permission('bob-describes-flags', { types: [K.FEATURE_VIEW], namePatterns: ['driver_flags'], actions: [A.DESCRIBE], policy: { users: ['bob'] } }),
    ],
  });
  alice = as(await issuer.issue({ sub: 'alice' }));
  bob = as(await issuer.issue({ sub: 'bob' }));
  // The service's copy has the permissions once alice may list.
  for (let i = 0; ; i++) {
    const ok = await alice.materialize({ project: h.project, featureViews: ['driver_stats'], startTime: ts(WINDOW.start), endTime: ts(WINDOW.end) }).then(
      () => true,
      () => false,
    );
    if (ok) break;
    if (i > 100) throw new Error('the permissions never reached materialization');
    await new Promise((r) => setTimeout(r, 50));
  }
});

afterAll(async () => {
  for (const c of clients) c.close();
  await h.close();
  await issuer.close();
});

test('MATERIALIZE decides who starts a job, on every view it writes', async () => {
  expect(
    (await failure(as(undefined).materialize({ project: h.project, featureViews: ['driver_stats'], startTime: ts(WINDOW.start), endTime: ts(WINDOW.end) })))
      .code,
  ).toBe(Code.UNAUTHENTICATED);
  expect(
    await failure(bob.materialize({ project: h.project, featureViews: ['driver_flags'], startTime: ts(WINDOW.start), endTime: ts(WINDOW.end) })),
  ).toMatchObject({
    code: Code.PERMISSION_DENIED,
    message: `principal user:bob may not materialize feature_view "driver_flags" in project "${h.project}"`,
  });
  // Every online view of the project: alice may write one of the two.
  expect((await failure(alice.materializeIncremental({ project: h.project }))).code).toBe(Code.PERMISSION_DENIED);
});

test('a job is seen by those who may describe its views; to others it does not exist', async () => {
  const { jobs } = await alice.listJobs({ project: h.project });
  const job = jobs[0];
  if (job === undefined) throw new Error('alice started a job');
  expect((await alice.getJob({ jobId: job.id })).job?.id).toBe(job.id);
  const hidden = await failure(bob.getJob({ jobId: job.id }));
  const unknown = await failure(bob.getJob({ jobId: 'no-such-job' }));
  expect(hidden.code).toBe(Code.NOT_FOUND);
  expect(hidden.message.replace(job.id, 'ID')).toBe(unknown.message.replace('no-such-job', 'ID'));
  expect((await failure(bob.cancelJob({ jobId: job.id }))).code).toBe(Code.NOT_FOUND);
  expect((await bob.listJobs({ project: h.project })).jobs).toEqual([]);
});
