// Generated Python stubs against online serving with TLS, OIDC tokens and Permission
// objects: one allowed call, one denied, one without a token, as another language sees them.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { registryV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import type { ServerHandle } from '@larder/rpc';
import { createTestCertificates, runInProcess, TestIssuer } from '@larder/testing';
import type { TestCertificates } from '@larder/testing';
import { onlineServingService } from '@larder/online-serving-app';
import { registryService } from '@larder/registry-service';
import { runPythonClient } from './clients';
import type { ClientRecord } from './clients';
import { generateStubs } from './generate';
import type { GeneratedStubs } from './generate';
import { applyClientRepo } from './repo';
import { setupToolchain } from './toolchain';
import type { Toolchain } from './toolchain';

jest.setTimeout(600_000);

const SERVING = 'larder.serving.v1.OnlineServingService';
let dir = '';
let certs: TestCertificates;
let issuer: TestIssuer;
let registry: ServerHandle;
let serving: ServerHandle;
let toolchain: Toolchain;
let stubs: GeneratedStubs;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-python-auth-'));
  [toolchain, certs, issuer] = await Promise.all([setupToolchain(), createTestCertificates({ dir: path.join(dir, 'certs') }), TestIssuer.start()]);
  stubs = await generateStubs(toolchain, path.join(dir, 'stubs'));
  registry = await runInProcess(registryService, { LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json'), LARDER_LOG_LEVEL: 'warn' });
  await applyClientRepo(registry.address);
  const client = createClient(registryV1.RegistryService, registry.address);
  await client.applyRegistry({
    project: 'e2e',
    permissions: [
      {
        name: 'alice-reads-driver-stats',
        types: [registryV1.ObjectKind.FEATURE_VIEW],
        namePatterns: ['driver_*'],
        actions: [registryV1.Action.READ_ONLINE],
        policy: { users: ['alice'] },
      },
    ],
  });
  client.close();
  serving = await runInProcess(onlineServingService, {
    LARDER_REGISTRY_ADDRESS: registry.address,
    LARDER_ONLINE_STORE_TYPE: 'sqlite',
    LARDER_ONLINE_STORE_PATH: path.join(dir, 'online.db'),
    LARDER_HTTP_ENABLED: 'false',
    LARDER_LOG_LEVEL: 'warn',
    LARDER_TLS_CERT_FILE: certs.server.certFile,
    LARDER_TLS_KEY_FILE: certs.server.keyFile,
    LARDER_AUTH_MODES: 'oidc',
    LARDER_AUTH_OIDC_ISSUER: issuer.issuer,
    LARDER_AUTH_OIDC_AUDIENCES: 'larder',
  });
});

afterAll(async () => {
  await serving?.shutdown('test over');
  await registry?.shutdown('test over');
  await issuer?.close();
  await rm(dir, { recursive: true, force: true });
});

async function pythonCall(token: string | undefined): Promise<ClientRecord[]> {
  return runPythonClient(toolchain, stubs.pythonDir, [{ service: SERVING, address: serving.address }], { ca: certs.ca.certFile }, token);
}

const rpc = (records: ClientRecord[]): ClientRecord | undefined => records.find((r) => r.check === 'rpc');

test('a Python stub with a token allowed to read the view gets the features', async () => {
  const records = await pythonCall(await issuer.issue({ sub: 'alice' }));
  expect(records.filter((r) => r.check === 'health').map((r) => r.status)).toEqual(['SERVING', 'SERVING']);
  expect(rpc(records)).toMatchObject({ code: 'OK', method: `${SERVING}/GetOnlineFeatures` });
  expect(rpc(records)?.response).toMatchObject({ metadata: { feature_names: { val: ['driver_id', 'conv_rate', 'acc_rate'] } } });
});

test('a Python stub with a token of someone else is refused by name; without a token, as unauthenticated', async () => {
  expect(rpc(await pythonCall(await issuer.issue({ sub: 'bob' })))).toMatchObject({
    code: 'PERMISSION_DENIED',
    message: 'principal user:bob may not read_online feature_view "driver_hourly_stats" in project "e2e"',
  });
  const anonymous = await pythonCall(undefined);
  // Health stays open to probes; the rpc needs a token.
  expect(anonymous.filter((r) => r.check === 'health').map((r) => r.code)).toEqual(['OK', 'OK']);
  expect(rpc(anonymous)).toMatchObject({ code: 'UNAUTHENTICATED', message: 'missing bearer token' });
});
