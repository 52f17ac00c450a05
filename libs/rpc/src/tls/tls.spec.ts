import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { healthV1 } from '@larder/proto';
import { createTestCertificates, SecretVolume } from '@larder/testing';
import type { IssuedCertificate, TestCertificates } from '@larder/testing';
import { createClient } from '../adapter/client';
import type { ClientOptions } from '../adapter/client';
import { implement } from '../adapter/types';
import type { ServiceImpl } from '../adapter/types';
import { Code } from '../code';
import { ConfigError, loadConfig } from '@larder/config';
import { createHttpListener } from '../http/listener';
import type { HttpListener } from '../http/listener';
import { RpcError } from '../rpc-error';
import { startServer } from '../server';
import type { ServerHandle } from '../server';
import { serverConfigSchema } from '../server-config';
import { ServingStatus } from '../health';
import { EchoService, memoryLogger } from '../testing/echo-service';
import { tokenFromFile } from './bearer-token';
import { peerCertificateOf } from './peer-certificate';
import { ServerTls } from './server-tls';
import type { ServerTlsConfig } from './server-tls';

let certs: TestCertificates;
let alice: IssuedCertificate;
const servers: ServerHandle[] = [];
const closers: Array<() => unknown> = [];

beforeAll(async () => {
  certs = await createTestCertificates();
  alice = await certs.client('alice', { sans: ['URI:spiffe://ml/sa/trainer', 'DNS:alice.ml.svc'] });
});

afterAll(async () => {
  await certs.remove();
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await Promise.all(servers.splice(0).map((s) => s.shutdown('afterEach')));
});

/** Echo answers with what the server saw: the verified client certificate and the authorization header. */
const whoAmI: ServiceImpl<typeof EchoService> = {
  echo: (request, ctx) => ({
    text: JSON.stringify({ certificate: ctx.peerCertificate ?? null, authorization: ctx.headers['authorization'] ?? null, text: request.text }),
  }),
  async *chat(requests) {
    let i = 0;
    for await (const request of requests) yield { text: request.text, index: i++ };
  },
};

function config(tlsKeys: Partial<ServerTlsConfig>) {
  return loadConfig(serverConfigSchema(), {
    env: {},
    overrides: {
      grpc: { host: '127.0.0.1', port: 0 },
      metrics: { host: '127.0.0.1', port: 0 },
      log: { level: 'debug' },
      shutdown: { gracePeriod: 2000 },
      tls: { certFile: certs.server.certFile, keyFile: certs.server.keyFile, ...tlsKeys },
    },
  });
}

async function start(tlsKeys: Partial<ServerTlsConfig> = {}, logger = memoryLogger().logger): Promise<ServerHandle> {
  const server = await startServer({ name: 'tls-test', services: [implement(EchoService, whoAmI)], config: config(tlsKeys), logger });
  servers.push(server);
  return server;
}

function client(server: ServerHandle | string, options: ClientOptions = {}) {
  const c = createClient(EchoService, typeof server === 'string' ? server : server.address, { defaultTimeoutMs: 5000, ...options });
  closers.push(() => c.close());
  return c;
}

async function seen(
  server: ServerHandle,
  options: ClientOptions,
): Promise<{ certificate: { subject: string; sans: string[]; issuer: string } | null; authorization: string | null }> {
  const { text } = await client(server, options).echo({ text: 'hi' });
  return JSON.parse(text) as never;
}

async function failure(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (error) {
    return RpcError.from(error);
  }
  throw new Error('expected the call to fail');
}

/** The certificate a new TLS connection to 127.0.0.1:port is served. */
function servedCertificate(port: number, alpn: string[] = ['h2']): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: certs.ca.cert, servername: 'localhost', ALPNProtocols: alpn }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(cert);
    });
    socket.on('error', reject);
  });
}

function get(url: string, options: RequestOptions = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, options, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('TLS on the gRPC port', () => {
  test('a client trusting the CA calls; one without it or with another CA cannot connect', async () => {
    const server = await start();
    expect(server.tls).toBeDefined();
    expect(await seen(server, { tls: { caFile: certs.ca.certFile } })).toMatchObject({ certificate: null, authorization: null });
    // The system roots do not hold our test CA.
    expect((await failure(client(server, { tls: {} }).echo({ text: 'x' }))).code).toBe(Code.UNAVAILABLE);
    expect((await failure(client(server, { tls: { caFile: certs.otherCa.certFile } }).echo({ text: 'x' }))).code).toBe(Code.UNAVAILABLE);
    // Plaintext against the TLS port.
    expect((await failure(client(server).echo({ text: 'x' }))).code).toBe(Code.UNAVAILABLE);
  });

  test('the server name is checked, and serverName overrides the host dialled', async () => {
    const named = await certs.issue({ cn: 'registry', sans: ['DNS:registry.larder.svc'], usage: 'server' });
    const server = await start({ certFile: named.certFile, keyFile: named.keyFile });
    const wrongName = await failure(client(server, { tls: { caFile: certs.ca.certFile } }).echo({ text: 'x' }));
    expect(wrongName.code).toBe(Code.UNAVAILABLE);
    expect(await seen(server, { tls: { caFile: certs.ca.certFile, serverName: 'registry.larder.svc' } })).toMatchObject({ certificate: null });
  });

  test('an expired server certificate is refused by our clients', async () => {
    const expired = await certs.issue({ cn: 'localhost', sans: ['IP:127.0.0.1'], usage: 'server', expired: true });
    const server = await start({ certFile: expired.certFile, keyFile: expired.keyFile });
    expect((await failure(client(server, { tls: { caFile: certs.ca.certFile } }).echo({ text: 'x' }))).code).toBe(Code.UNAVAILABLE);
  });

  test('the listening line and handle say TLS; metrics are served over https with the same certificate', async () => {
    const server = await start();
    expect(server.metricsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(server.metricsBoundUrl).toMatch(/^https:\/\//);
    const metrics = await get(`${server.metricsUrl}/metrics`, { ca: certs.ca.cert });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('grpc_server_started_total');
    expect((await get(`${server.metricsUrl}/readyz`, { ca: certs.ca.cert })).status).toBe(200);
    const served = await servedCertificate(server.metricsPort as number, ['http/1.1']);
    expect(served.serialNumber.toUpperCase()).toBe(certs.server.serialNumber);
    // A client that does not trust the CA is refused in the handshake.
    await expect(get(`${server.metricsUrl}/metrics`)).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
  });
});

describe('an extra gRPC port (StartServerOptions.extraPorts)', () => {
  test('is secured like grpc.port: TLS with the same certificate, client certificates required, plaintext refused', async () => {
    const server = await startServer({
      name: 'tls-test',
      services: [implement(EchoService, whoAmI)],
      config: config({ clientCaFile: certs.ca.certFile, requireClientCert: true }),
      logger: memoryLogger().logger,
      extraPorts: [{ name: 'feastGrpc', host: '127.0.0.1', port: 0 }],
    });
    servers.push(server);
    const extra = server.extraPorts[0]!;
    expect(extra.port).not.toBe(server.port);
    const trust = { caFile: certs.ca.certFile };
    expect((await failure(client(extra.address).echo({ text: 'x' }))).code).toBe(Code.UNAVAILABLE);
    expect((await failure(client(extra.address, { tls: trust }).echo({ text: 'x' }))).code).toBe(Code.UNAVAILABLE);
    const { text } = await client(extra.address, { tls: { ...trust, certFile: alice.certFile, keyFile: alice.keyFile } }).echo({ text: 'hi' });
    expect(JSON.parse(text)).toMatchObject({ certificate: { subject: 'alice' }, text: 'hi' });
    expect((await servedCertificate(extra.port)).serialNumber.toUpperCase()).toBe(certs.server.serialNumber);
  });
});

describe('mTLS', () => {
  test('required: no certificate, one from another CA and an expired one are refused; a good one is ctx.peerCertificate', async () => {
    const server = await start({ clientCaFile: certs.ca.certFile, requireClientCert: true });
    const trust = { caFile: certs.ca.certFile };
    expect((await failure(client(server, { tls: trust }).echo({ text: 'x' }))).code).toBe(Code.UNAVAILABLE);
    const mallory = await certs.client('mallory', { ca: 'other' });
    expect((await failure(client(server, { tls: { ...trust, certFile: mallory.certFile, keyFile: mallory.keyFile } }).echo({ text: 'x' }))).code).toBe(
      Code.UNAVAILABLE,
    );
    const old = await certs.client('alice', { expired: true, name: 'alice-expired' });
    expect((await failure(client(server, { tls: { ...trust, certFile: old.certFile, keyFile: old.keyFile } }).echo({ text: 'x' }))).code).toBe(
      Code.UNAVAILABLE,
    );

    const answer = await seen(server, { tls: { ...trust, certFile: alice.certFile, keyFile: alice.keyFile } });
    expect(answer.certificate).toEqual({
      subject: 'alice',
      sans: ['spiffe://ml/sa/trainer', 'alice.ml.svc'],
      issuer: 'Larder test ca',
      serialNumber: alice.serialNumber,
      fingerprint256: alice.fingerprint256,
    });
    // Health stays reachable for a caller with a certificate, and the server is still up.
    const health = createClient(healthV1.Health, server.address, { tls: { ...trust, certFile: alice.certFile, keyFile: alice.keyFile } });
    closers.push(() => health.close());
    expect((await health.check({ service: '' })).status).toBe(ServingStatus.SERVING);
  });

  test('optional: callers without a certificate get in anonymously; a certificate that does not verify is not reported', async () => {
    const server = await start({ clientCaFile: certs.ca.certFile });
    const trust = { caFile: certs.ca.certFile };
    expect((await seen(server, { tls: trust })).certificate).toBeNull();
    const mallory = await certs.client('alice', { ca: 'other', name: 'alice-forged' });
    expect((await seen(server, { tls: { ...trust, certFile: mallory.certFile, keyFile: mallory.keyFile } })).certificate).toBeNull();
    expect((await seen(server, { tls: { ...trust, certFile: alice.certFile, keyFile: alice.keyFile } })).certificate?.subject).toBe('alice');
  });

  test('HTTP: peerCertificateOf gives the verified certificate of an https request', async () => {
    const tlsConfig = ServerTls.fromConfig({
      certFile: certs.server.certFile,
      keyFile: certs.server.keyFile,
      clientCaFile: certs.ca.certFile,
      requireClientCert: false,
    });
    closers.push(() => tlsConfig?.close());
    const listener: HttpListener = await createHttpListener({ host: '127.0.0.1', port: 0, tls: tlsConfig }, (req, res) => {
      res.end(JSON.stringify(peerCertificateOf(req) ?? null));
    });
    closers.push(() => listener.close('all'));
    expect(listener.scheme).toBe('https');
    expect(listener.url).toMatch(/^https:/);
    const withCert = await get(listener.url, { ca: certs.ca.cert, cert: alice.cert, key: alice.key });
    expect(JSON.parse(withCert.body)).toMatchObject({ subject: 'alice', sans: ['spiffe://ml/sa/trainer', 'alice.ml.svc'] });
    const forged = await certs.client('alice', { ca: 'other', name: 'alice-forged-http' });
    expect(JSON.parse((await get(listener.url, { ca: certs.ca.cert, cert: forged.cert, key: forged.key })).body)).toBeNull();
    expect(JSON.parse((await get(listener.url, { ca: certs.ca.cert })).body)).toBeNull();
  });
});

describe('rotation', () => {
  test('a Kubernetes-style symlink swap: new connections get the new certificate, open calls and channels go on', async () => {
    const next = await certs.issue({ cn: 'localhost', sans: ['IP:127.0.0.1', 'DNS:localhost'], usage: 'server', name: 'server-rotated' });
    const volume = await SecretVolume.create(path.join(certs.dir, 'secret'), { 'tls.crt': certs.server.cert, 'tls.key': certs.server.key });
    const log = memoryLogger();
    const server = await start({ certFile: volume.path('tls.crt'), keyFile: volume.path('tls.key') }, log.logger);
    expect((await servedCertificate(server.port)).serialNumber.toUpperCase()).toBe(certs.server.serialNumber);

    // An open channel and a bidi stream in flight across the swap.
    const steady = client(server, { tls: { caFile: certs.ca.certFile } });
    await steady.echo({ text: 'before' });
    const outgoing: Array<(value: { text: string }) => void> = [];
    let finish: () => void = () => undefined;
    const requests = (async function* () {
      for (let i = 0; ; i++) {
        const text = await new Promise<string | undefined>((resolve) => {
          outgoing.push((value) => resolve(value.text));
          finish = () => resolve(undefined);
        });
        if (text === undefined) return;
        yield { text };
      }
    })();
    const stream = steady.chat(requests, { timeoutMs: 60_000 })[Symbol.asyncIterator]();
    const say = async (text: string): Promise<string> => {
      while (outgoing.length === 0) await new Promise((resolve) => setImmediate(resolve));
      outgoing.shift()!({ text });
      const reply = await stream.next();
      return reply.done ? '<ended>' : reply.value.text;
    };
    expect(await say('one')).toBe('one');

    await volume.update({ 'tls.crt': next.cert, 'tls.key': next.key });
    const served = await waitFor('the rotated certificate', async () => {
      const cert = await servedCertificate(server.port);
      return cert.serialNumber.toUpperCase() === next.serialNumber ? cert : undefined;
    });
    expect(served.fingerprint256).toBe(next.fingerprint256);
    expect(server.tls?.certificate().serialNumber).toBe(next.serialNumber);
    expect(log.records().some((r) => r['msg'] === 'server TLS certificate reloaded' && r['serialNumber'] === next.serialNumber)).toBe(true);

    // The stream opened before the swap still answers, and so does the old channel.
    expect(await say('two')).toBe('two');
    expect((await steady.echo({ text: 'after' })).text).toContain('after');
    finish();
    expect((await stream.next()).done).toBe(true);
    // A new client connects with the new certificate.
    expect(await seen(server, { tls: { caFile: certs.ca.certFile } })).toMatchObject({ certificate: null });
    // The metrics endpoint follows too.
    await waitFor('metrics on the rotated certificate', async () =>
      (await servedCertificate(server.metricsPort as number, ['http/1.1'])).serialNumber.toUpperCase() === next.serialNumber ? true : undefined,
    );
  });

  test("a client's certificate rotated in its volume is sent on its next connection, without a new client", async () => {
    const bob = await certs.client('bob', { name: 'bob-rotated' });
    const volume = await SecretVolume.create(path.join(certs.dir, 'client-secret'), { 'tls.crt': alice.cert, 'tls.key': alice.key });
    const keys = { clientCaFile: certs.ca.certFile, requireClientCert: true };
    const first = await start(keys);
    const clog = memoryLogger();
    const c = client(first, { tls: { caFile: certs.ca.certFile, certFile: volume.path('tls.crt'), keyFile: volume.path('tls.key'), logger: clog.logger } });
    const subject = async (): Promise<string | undefined> => {
      try {
        return (JSON.parse((await c.echo({ text: '' }, { timeoutMs: 2000 })).text) as { certificate: { subject: string } | null }).certificate?.subject;
      } catch {
        return undefined;
      }
    };
    expect(await subject()).toBe('alice');
    await volume.update({ 'tls.crt': bob.cert, 'tls.key': bob.key });
    await waitFor('the client to read the new files', async () => (clog.records().some((r) => r['msg'] === 'client TLS files reloaded') ? true : undefined));
    // The open connection keeps its handshake (the server still sees alice); a restarted server makes the channel connect again.
    expect(await subject()).toBe('alice');
    const port = first.port;
    await first.shutdown('restart');
    servers.splice(servers.indexOf(first), 1);
    const second = await startServer({
      name: 'tls-test',
      services: [implement(EchoService, whoAmI)],
      config: loadConfig(serverConfigSchema(), {
        env: {},
        overrides: {
          grpc: { host: '127.0.0.1', port },
          metrics: { enabled: false },
          tls: { certFile: certs.server.certFile, keyFile: certs.server.keyFile, ...keys },
        },
      }),
      logger: memoryLogger().logger,
    });
    servers.push(second);
    expect(await waitFor('the rotated client certificate', async () => ((await subject()) === 'bob' ? 'bob' : undefined))).toBe('bob');
  });

  test('files that do not go together (a key of another certificate) are not loaded: the last good certificate stays', async () => {
    const other = await certs.issue({ cn: 'localhost', sans: ['IP:127.0.0.1'], usage: 'server', name: 'server-other' });
    const volume = await SecretVolume.create(path.join(certs.dir, 'secret-bad'), { 'tls.crt': certs.server.cert, 'tls.key': certs.server.key });
    const log = memoryLogger();
    const server = await start({ certFile: volume.path('tls.crt'), keyFile: volume.path('tls.key') }, log.logger);
    await volume.update({ 'tls.crt': other.cert, 'tls.key': certs.server.key });
    await waitFor('the warning', async () =>
      log.records().some((r) => r['msg'] === 'server TLS certificate changed but was not loaded; keeping the previous one') ? true : undefined,
    );
    const warning = log.records().find((r) => r['msg'] === 'server TLS certificate changed but was not loaded; keeping the previous one');
    expect(String(warning?.['problem'])).toContain('is not the private key of the certificate');
    expect((await servedCertificate(server.port)).serialNumber.toUpperCase()).toBe(certs.server.serialNumber);
    expect(await seen(server, { tls: { caFile: certs.ca.certFile } })).toMatchObject({ certificate: null });
  });
});

describe('bearer tokens from clients', () => {
  test('a token file is sent as authorization and read again after it is rewritten, in place or by a symlink swap', async () => {
    const server = await start();
    const file = path.join(certs.dir, 'token');
    writeFileSync(file, 'first-token\n');
    const c = client(server, { tls: { caFile: certs.ca.certFile }, token: tokenFromFile(file) });
    const auth = async (): Promise<string> => (JSON.parse((await c.echo({ text: '' })).text) as { authorization: string }).authorization;
    expect(await auth()).toBe('Bearer first-token');
    writeFileSync(file, 'second-token');
    expect(await auth()).toBe('Bearer second-token');

    const volume = await SecretVolume.create(path.join(certs.dir, 'projected'), { token: 'sa-token-1' });
    const projected = client(server, { tls: { caFile: certs.ca.certFile }, token: tokenFromFile(volume.path('token')) });
    const saAuth = async (): Promise<string> => (JSON.parse((await projected.echo({ text: '' })).text) as { authorization: string }).authorization;
    expect(await saAuth()).toBe('Bearer sa-token-1');
    await volume.update({ token: 'sa-token-2' });
    expect(await saAuth()).toBe('Bearer sa-token-2');
  });

  test('a fixed token goes on plaintext channels too; a token file that disappears fails the call UNAUTHENTICATED, naming it', async () => {
    const plain = await startServer({
      name: 'plain',
      services: [implement(EchoService, whoAmI)],
      config: loadConfig(serverConfigSchema(), { env: {}, overrides: { grpc: { host: '127.0.0.1', port: 0 }, metrics: { enabled: false } } }),
      logger: memoryLogger().logger,
    });
    servers.push(plain);
    expect((JSON.parse((await client(plain, { token: 'abc' }).echo({ text: '' })).text) as { authorization: string }).authorization).toBe('Bearer abc');
    const file = path.join(certs.dir, 'token-gone');
    writeFileSync(file, 'here');
    const c = client(plain, { token: tokenFromFile(file) });
    await c.echo({ text: '' });
    const { rmSync } = await import('node:fs');
    rmSync(file);
    const error = await failure(c.echo({ text: '' }));
    expect(error.code).toBe(Code.UNAUTHENTICATED);
    expect(error.message).toContain(file);
    expect(() => tokenFromFile(path.join(certs.dir, 'no-such-token'))).toThrow(/cannot read the token file .*no-such-token: ENOENT/);
    writeFileSync(file, 'bad token\n');
    expect(() => tokenFromFile(file)).toThrow(/characters a token cannot have/);
  });
});

describe('attacks on a TLS port', () => {
  test('plaintext HTTP/2, garbage bytes and an abandoned handshake are dropped; the server keeps serving others', async () => {
    const server = await start({ clientCaFile: certs.ca.certFile });
    const garbage = (port: number, bytes: Buffer): Promise<string> =>
      new Promise((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
        let received = '';
        socket.on('data', (chunk) => (received += chunk.toString('latin1')));
        socket.on('error', () => undefined);
        socket.on('close', () => resolve(received));
      });
    const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    // A TLS record header claiming a huge ClientHello, then junk.
    const bogusHello = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0xff, 0xff, 0xff]), Buffer.alloc(2000, 0x41)]);
    const closed = await Promise.all([
      garbage(server.port, preface),
      garbage(server.port, bogusHello),
      garbage(server.port, Buffer.alloc(70_000, 0)),
      garbage(server.metricsPort as number, Buffer.from('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n')),
      garbage(server.metricsPort as number, bogusHello),
    ]);
    // Nothing a handler wrote: no metrics text leaked to the plaintext request.
    for (const text of closed) expect(text).not.toContain('grpc_server');
    // A socket that starts a handshake and stalls does not hold up others.
    const stalled = net.connect(server.port, '127.0.0.1');
    closers.push(() => stalled.destroy());
    expect(await seen(server, { tls: { caFile: certs.ca.certFile } })).toMatchObject({ certificate: null });
    expect((await get(`${server.metricsUrl}/healthz`, { ca: certs.ca.cert })).status).toBe(200);
    expect(server.state).toBe('serving');
  });
});

describe('configuration', () => {
  const problemOf = (keys: Partial<ServerTlsConfig>): string => {
    try {
      ServerTls.fromConfig({ certFile: '', keyFile: '', clientCaFile: '', requireClientCert: false, ...keys })?.close();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).message;
    }
    return 'no error';
  };

  test('TLS is off without tls.certFile; bad combinations and files are named by key', async () => {
    expect(ServerTls.fromConfig({ certFile: '', keyFile: '', clientCaFile: '', requireClientCert: false })).toBeUndefined();
    expect(problemOf({ certFile: certs.server.certFile })).toMatch(/tls\.keyFile: required when tls\.certFile is set/);
    expect(problemOf({ keyFile: certs.server.keyFile })).toMatch(/tls\.certFile: required when tls\.keyFile is set/);
    expect(problemOf({ certFile: certs.server.certFile, keyFile: certs.server.keyFile, requireClientCert: true })).toMatch(
      /tls\.requireClientCert: needs tls\.clientCaFile/,
    );
    expect(problemOf({ certFile: '/no/such.crt', keyFile: certs.server.keyFile })).toMatch(/tls\.certFile: cannot read \/no\/such\.crt: ENOENT/);
    expect(problemOf({ certFile: certs.server.certFile, keyFile: alice.keyFile })).toMatch(/tls\.keyFile: .* is not the private key of the certificate/);
    expect(problemOf({ certFile: certs.server.keyFile, keyFile: certs.server.keyFile })).toMatch(/tls\.certFile: .* holds no PEM certificate/);
    expect(problemOf({ certFile: certs.server.certFile, keyFile: certs.server.keyFile, clientCaFile: alice.keyFile })).toMatch(
      /tls\.clientCaFile: .* holds no PEM certificate/,
    );
    // The CA bundle parses as certificates (tls.createSecureContext would take garbage silently).
    expect(new X509Certificate(certs.ca.cert).ca).toBe(true);
  });
});
