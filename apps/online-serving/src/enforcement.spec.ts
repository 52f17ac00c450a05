// Online serving with authentication and Permission objects on: who may read what, through
// gRPC and the HTTP gateway, with tokens from a real issuer.
import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { registryV1, servingV1, typesV1 } from '@larder/proto';
import { Code, createClient } from '@larder/rpc';
import type { RpcClient } from '@larder/rpc';
import { rpcRejection as failure, TestIssuer } from '@larder/testing';
import { startHarness } from './testing';
import type { Harness } from './testing';

const K = registryV1.ObjectKind;
const A = registryV1.Action;
type Serving = RpcClient<typeof servingV1.OnlineServingService>;

let h: Harness;
let issuer: TestIssuer;
const clients: Serving[] = [];
let alice: Serving;
let model: Serving;
let tokens: Record<'alice' | 'model' | 'bob', string>;

const permission = (name: string, init: Omit<MessageInitShape<typeof registryV1.PermissionSchema>, 'name' | '$typeName'>) =>
  create(registryV1.PermissionSchema, { ...init, name } as MessageInitShape<typeof registryV1.PermissionSchema>);

function as(token: string): Serving {
  const client = createClient(servingV1.OnlineServingService, h.servingAddress, { token, defaultTimeoutMs: 10_000 });
  clients.push(client);
  return client;
}

const i64 = (n: number) => create(typesV1.ValueSchema, { val: { case: 'int64Val', value: BigInt(n) } });
const str = (s: string) => create(typesV1.ValueSchema, { val: { case: 'stringVal', value: s } });
const read = (features: string[], entities: Record<string, typesV1.Value[]> = { driver_id: [i64(1)] }) =>
  create(servingV1.GetOnlineFeaturesRequestSchema, {
    project: h.project,
    kind: { case: 'features', value: { val: features } },
    entities: Object.fromEntries(Object.entries(entities).map(([k, v]) => [k, { val: v }])),
  });

beforeAll(async () => {
  issuer = await TestIssuer.start();
  h = await startHarness(
    { type: 'sqlite' },
    { LARDER_AUTH_MODES: 'oidc', LARDER_AUTH_OIDC_ISSUER: issuer.issuer, LARDER_AUTH_OIDC_AUDIENCES: 'larder', LARDER_AUTH_OPERATORS: 'user:root' },
  );
  await h.apply({
    permissions: [
      permission('alice-reads-drivers', { types: [K.FEATURE_VIEW], namePatterns: ['driver_*'], actions: [A.READ_ONLINE], policy: { users: ['alice'] } }),
      permission('model-reads-its-service', {
        types: [K.FEATURE_SERVICE],
        namePatterns: ['model_*'],
        actions: [A.READ_ONLINE],
        policy: { serviceAccounts: ['serving/model'] },
      }),
    ],
  });
  tokens = {
    alice: await issuer.issue({ sub: 'alice' }),
    model: await issuer.serviceAccountToken({ namespace: 'serving', name: 'model' }),
    bob: await issuer.issue({ sub: 'bob' }),
  };
  alice = as(tokens.alice);
  model = as(tokens.model);
  // The serving copy has the permissions once a read through them succeeds.
  for (let i = 0; ; i++) {
    try {
      await alice.getOnlineFeatures(read(['driver_stats:conv_rate']));
      break;
    } catch (error) {
      if (i > 100) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await h.close();
  await issuer.close();
});

describe('gRPC GetOnlineFeatures', () => {
  it('needs a valid token', async () => {
    expect(await failure(h.serving.getOnlineFeatures(read(['driver_stats:conv_rate'])))).toMatchObject({
      code: Code.UNAUTHENTICATED,
      message: 'missing bearer token',
    });
    expect((await failure(as(await issuer.issue({ sub: 'alice', expiresIn: -300 })).getOnlineFeatures(read(['driver_stats:conv_rate'])))).code).toBe(
      Code.UNAUTHENTICATED,
    );
  });

  it('reads the views the caller may read, and refuses others by name', async () => {
    const ok = await alice.getOnlineFeatures(read(['driver_stats:conv_rate', 'driver_stats:trips']));
    expect(ok.metadata?.featureNames?.val).toEqual(['driver_id', 'conv_rate', 'trips']);
    expect(
      await failure(alice.getOnlineFeatures(read(['driver_stats:conv_rate', 'customer_stats:segment'], { driver_id: [i64(1)], customer_id: [str('a')] }))),
    ).toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: `principal user:alice may not read_online feature_view "customer_stats" in project "${h.project}"`,
    });
    // An on-demand view is an object of its own, even when its inputs may be read.
    expect((await failure(alice.getOnlineFeatures(read(['adjusted:scaled'])))).code).toBe(Code.PERMISSION_DENIED);
    // A view that does not exist is refused as one that is hidden: existence is not told.
    expect(await failure(alice.getOnlineFeatures(read(['secret_stats:x'])))).toMatchObject({
      code: Code.PERMISSION_DENIED,
      message: `principal user:alice may not read_online feature_view "secret_stats" in project "${h.project}"`,
    });
    // Within her grant, a missing view is the resolver's INVALID_ARGUMENT as ever.
    expect((await failure(alice.getOnlineFeatures(read(['driver_nope:x'])))).code).toBe(Code.INVALID_ARGUMENT);
  });

  it('a grant on a feature service reads through it, not around it', async () => {
    const viaService = create(servingV1.GetOnlineFeaturesRequestSchema, {
      project: h.project,
      kind: { case: 'featureService', value: 'model_v1' },
      entities: { driver_id: { val: [i64(1)] }, rider_id: { val: [str('a')] } },
      requestContext: { amount: { val: [create(typesV1.ValueSchema, { val: { case: 'doubleVal', value: 2 } })] } },
    });
    expect((await model.getOnlineFeatures(viaService)).metadata?.featureNames?.val.length).toBeGreaterThan(1);
    expect((await failure(model.getOnlineFeatures(read(['driver_stats:conv_rate'])))).code).toBe(Code.PERMISSION_DENIED);
    expect((await failure(alice.getOnlineFeatures(viaService))).code).toBe(Code.PERMISSION_DENIED);
  });
});

describe('HTTP POST /get-online-features', () => {
  const post = (token: string | undefined, features: string[]) =>
    fetch(`${h.httpUrl}/get-online-features`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token !== undefined && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify({ project: h.project, features, entities: { driver_id: [1] } }),
    });

  it('401 without a token, 403 for a view the caller may not read, 200 otherwise', async () => {
    const missing = await post(undefined, ['driver_stats:conv_rate']);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const denied = await post(tokens.bob, ['driver_stats:conv_rate']);
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({
      code: 'PERMISSION_DENIED',
      message: `principal user:bob may not read_online feature_view "driver_stats" in project "${h.project}"`,
    });
    const ok = await post(tokens.alice, ['driver_stats:conv_rate']);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { metadata: { feature_names: string[] } }).metadata.feature_names).toEqual(['driver_id', 'conv_rate']);
  });
});
