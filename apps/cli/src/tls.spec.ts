// The CLI against a registry that speaks TLS and requires client certificates: the global
// --tls-ca/--tls-cert/--tls-key flags (or LARDER_CLIENT_TLS_* variables) reach it, and
// a missing file or half a certificate is named before anything is sent.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { registryV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import type { ServerHandle } from '@larder/rpc';
import { createTestCertificates, runInProcess, runLarderCli as larder } from '@larder/testing';
import type { IssuedCertificate, TestCertificates } from '@larder/testing';
import { registryService } from '@larder/registry-service';

jest.setTimeout(120_000);

let dir: string;
let certs: TestCertificates;
let alice: IssuedCertificate;
let registry: ServerHandle;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'larder-cli-tls-'));
  certs = await createTestCertificates({ dir: path.join(dir, 'certs') });
  alice = await certs.client('alice');
  registry = await runInProcess(registryService, {
    LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json'),
    LARDER_TLS_CERT_FILE: certs.server.certFile,
    LARDER_TLS_KEY_FILE: certs.server.keyFile,
    LARDER_TLS_CLIENT_CA_FILE: certs.ca.certFile,
    LARDER_TLS_REQUIRE_CLIENT_CERT: 'true',
  });
  const admin = createClient(registryV1.RegistryService, registry.address, {
    tls: { caFile: certs.ca.certFile, certFile: alice.certFile, keyFile: alice.keyFile },
  });
  await admin.applyRegistry({ project: 'tls_cli', entities: [{ name: 'driver', joinKey: 'driver_id', valueType: typesV1.ValueType.INT64 }] });
  admin.close();
});

afterAll(async () => {
  await registry?.shutdown('test over');
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const list = (...more: string[]) => ['list', 'entities', '--registry', registry.address, '--project', 'tls_cli', '-o', 'json', ...more];

test('flags or LARDER_CLIENT_TLS_* variables carry the CA and client certificate to the registry', async () => {
  const byFlags = await larder(list('--tls-ca', certs.ca.certFile, '--tls-cert', alice.certFile, '--tls-key', alice.keyFile), dir);
  expect(byFlags.stderr).toBe('');
  expect(byFlags.code).toBe(0);
  expect(byFlags.stdout).toContain('driver_id');
  const byEnv = await larder(list(), dir, {
    LARDER_CLIENT_TLS_CA_FILE: certs.ca.certFile,
    LARDER_CLIENT_TLS_CERT_FILE: alice.certFile,
    LARDER_CLIENT_TLS_KEY_FILE: alice.keyFile,
  });
  expect(byEnv.code).toBe(0);
  expect(byEnv.stdout).toContain('driver_id');
});

test('without a client certificate, or without the CA, the registry cannot be reached', async () => {
  const noCert = await larder(list('--tls-ca', certs.ca.certFile), dir);
  expect(noCert.code).toBe(1);
  // The TLS alert says why.
  expect(noCert.stderr).toMatch(/the registry is unavailable: .*certificate required/);
  const plaintext = await larder(list(), dir);
  expect(plaintext.code).toBe(1);
  expect(plaintext.stderr).toMatch(/the registry is unavailable/);
});

test('a missing file, half a certificate or a bad token file is named with its flag or variable', async () => {
  const missing = await larder(list('--tls-ca', path.join(dir, 'nope.crt')), dir);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/--tls-ca: cannot read .*nope\.crt: ENOENT/);
  const half = await larder(list('--tls-ca', certs.ca.certFile, '--tls-cert', alice.certFile), dir);
  expect(half.code).toBe(1);
  expect(half.stderr).toContain('--tls-cert needs --tls-key');
  const keyAsCa = await larder(list(), dir, { LARDER_CLIENT_TLS_CA_FILE: alice.keyFile });
  expect(keyAsCa.code).toBe(1);
  expect(keyAsCa.stderr).toMatch(/LARDER_CLIENT_TLS_CA_FILE: .* holds no PEM certificate/);
  const token = await larder(list('--tls-ca', certs.ca.certFile, '--token-file', path.join(dir, 'no-token')), dir);
  expect(token.code).toBe(1);
  expect(token.stderr).toMatch(/--token-file: cannot read the token file .*no-token: ENOENT/);
});
