import { setTimeout as sleep } from 'node:timers/promises';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { healthV1, reflectionV1, reflectionV1alpha } from '@larder/proto';
import { createClient } from './adapter/client';
import { implement } from './adapter/types';
import { Code } from './code';
import { RpcError } from './rpc-error';
import { startServer } from './server';
import type { ServerHandle } from './server';
import { ServingStatus } from './health';
import { echoImpl, EchoService, memoryLogger, newObserved, testConfig } from './testing/echo-service';

const servers: ServerHandle[] = [];
const closers: Array<() => void> = [];

async function start(options: { gracePeriod?: number } = {}): Promise<ServerHandle> {
  const server = await startServer({
    name: 'server-test',
    services: [implement(EchoService, echoImpl(newObserved()))],
    config: testConfig(options),
    logger: memoryLogger().logger,
  });
  servers.push(server);
  return server;
}

function client<S extends Parameters<typeof createClient>[0]>(service: S, server: ServerHandle) {
  const c = createClient(service, server.address);
  closers.push(() => c.close());
  return c;
}

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await Promise.all(servers.splice(0).map((s) => s.shutdown('afterEach')));
});

async function codeOf(promise: Promise<unknown>): Promise<Code> {
  try {
    await promise;
  } catch (error) {
    return RpcError.from(error).code;
  }
  return Code.OK;
}

describe('extra ports', () => {
  test('serve every service, health included, on their own host, logged; shutdown closes them', async () => {
    const server = await startServer({
      name: 'server-test',
      services: [implement(EchoService, echoImpl(newObserved()))],
      config: testConfig(),
      logger: memoryLogger().logger,
      extraPorts: [{ name: 'feastGrpc', host: '127.0.0.2', port: 0 }],
    });
    servers.push(server);
    const [extra] = server.extraPorts;
    expect(extra).toEqual({ name: 'feastGrpc', port: expect.any(Number), address: `127.0.0.2:${extra!.port}`, boundAddress: `127.0.0.2:${extra!.port}` });
    const echo = createClient(EchoService, extra!.address);
    const health = createClient(healthV1.Health, extra!.address);
    closers.push(
      () => echo.close(),
      () => health.close(),
    );
    expect(await echo.echo({ text: 'hi' })).toMatchObject({ text: 'hi' });
    expect((await health.check({ service: '' })).status).toBe(ServingStatus.SERVING);
    // Bound to 127.0.0.2 only: nothing answers the same port on 127.0.0.1.
    const elsewhere = createClient(EchoService, `127.0.0.1:${extra!.port}`, { defaultTimeoutMs: 2000 });
    closers.push(() => elsewhere.close());
    expect(await codeOf(elsewhere.echo({ text: 'x' }))).toBe(Code.UNAVAILABLE);
    await server.shutdown('test');
    const after = createClient(EchoService, extra!.address, { defaultTimeoutMs: 2000 });
    closers.push(() => after.close());
    expect(await codeOf(after.echo({ text: 'x' }))).toBe(Code.UNAVAILABLE);
  });

  test('a port that cannot be bound fails the start, naming the listener and address', async () => {
    const first = await start();
    await expect(
      startServer({
        name: 'server-test',
        services: [implement(EchoService, echoImpl(newObserved()))],
        config: testConfig(),
        logger: memoryLogger().logger,
        extraPorts: [{ name: 'feastGrpc', host: '127.0.0.1', port: first.port }],
      }),
    ).rejects.toThrow(`cannot bind gRPC (feastGrpc) on 127.0.0.1:${first.port}`);
  });
});

describe('health', () => {
  test('Check knows the server and each service, NOT_FOUND otherwise', async () => {
    const server = await start();
    const health = client(healthV1.Health, server);
    expect((await health.check({ service: '' })).status).toBe(ServingStatus.SERVING);
    expect((await health.check({ service: 'larder.rpctest.v1.EchoService' })).status).toBe(ServingStatus.SERVING);
    expect(await codeOf(health.check({ service: 'no.such.Service' }))).toBe(Code.NOT_FOUND);
    server.health.setStatus('larder.rpctest.v1.EchoService', ServingStatus.NOT_SERVING);
    expect((await health.check({ service: 'larder.rpctest.v1.EchoService' })).status).toBe(ServingStatus.NOT_SERVING);
  });

  test('Watch streams changes, SERVICE_UNKNOWN for unknown services, and NOT_SERVING at shutdown', async () => {
    const server = await start();
    const health = client(healthV1.Health, server);
    const seen: ServingStatus[] = [];
    const watching = (async () => {
      for await (const response of health.watch({ service: '' })) {
        seen.push(response.status);
        if (seen.length === 1) server.health.setStatus('', ServingStatus.NOT_SERVING);
        if (seen.length === 2) server.health.setStatus('', ServingStatus.SERVING);
      }
    })();
    const unknown = health.watch({ service: 'no.such.Service' })[Symbol.asyncIterator]();
    expect((await unknown.next()).value?.status).toBe(ServingStatus.SERVICE_UNKNOWN);
    await unknown.return?.();
    while (seen.length < 3) await sleep(5);
    const shutdown = server.shutdown('test');
    await watching.catch(() => undefined);
    await shutdown;
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING, ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
  });
});

describe('reflection', () => {
  test('v1 lists services and returns the file containing a symbol with its dependencies', async () => {
    const server = await start();
    const reflection = client(reflectionV1.ServerReflection, server);
    const requests: reflectionV1.ServerReflectionRequest['messageRequest'][] = [
      { case: 'listServices', value: '' },
      { case: 'fileContainingSymbol', value: 'larder.rpctest.v1.EchoService' },
      { case: 'fileContainingSymbol', value: 'larder.rpctest.v1.EchoResponse.Detail.Kind' },
      { case: 'fileContainingSymbol', value: 'larder.rpctest.v1.EchoService.Chat' },
      { case: 'fileByFilename', value: 'google/protobuf/timestamp.proto' },
      { case: 'fileContainingSymbol', value: 'larder.rpctest.v1.Nope' },
    ];
    const responses = [];
    for await (const response of reflection.serverReflectionInfo(requests.map((messageRequest) => ({ messageRequest })))) {
      responses.push(response.messageResponse);
    }
    expect(responses).toHaveLength(requests.length);

    const [list, service, nested, method, wkt, missing] = responses;
    expect(list?.case).toBe('listServicesResponse');
    const names = list?.case === 'listServicesResponse' ? list.value.service.map((s) => s.name) : [];
    expect(names).toEqual(
      expect.arrayContaining([
        'larder.rpctest.v1.EchoService',
        'grpc.health.v1.Health',
        'grpc.reflection.v1.ServerReflection',
        'grpc.reflection.v1alpha.ServerReflection',
      ]),
    );

    for (const answer of [service, nested, method]) {
      expect(answer?.case).toBe('fileDescriptorResponse');
      if (answer?.case !== 'fileDescriptorResponse') continue;
      const files = answer.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
      expect(files.map((f) => f.name)).toEqual(['larder/rpctest/v1/echo.proto', 'google/protobuf/timestamp.proto']);
      const [echo, timestamp] = files;
      expect(echo?.dependency).toEqual(['google/protobuf/timestamp.proto']);
      expect(echo?.service[0]?.name).toBe('EchoService');
      expect(echo?.service[0]?.method.map((m) => m.name)).toEqual(['Echo', 'EchoMany', 'Collect', 'Chat', 'Unimplemented']);
      expect(echo?.service[0]?.method.find((m) => m.name === 'Chat')).toMatchObject({ clientStreaming: true, serverStreaming: true });
      expect(echo?.messageType.find((m) => m.name === 'EchoResponse')?.nestedType[0]?.enumType[0]?.name).toBe('Kind');
      expect(timestamp?.messageType.map((m) => m.name)).toEqual(['Timestamp']);
    }
    expect(wkt?.case).toBe('fileDescriptorResponse');
    expect(missing?.case).toBe('errorResponse');
    if (missing?.case === 'errorResponse') expect(missing.value.errorCode).toBe(Code.NOT_FOUND);
  });

  test('v1alpha answers the same requests', async () => {
    const server = await start();
    const reflection = client(reflectionV1alpha.ServerReflection, server);
    const responses = [];
    for await (const response of reflection.serverReflectionInfo([
      { host: 'h', messageRequest: { case: 'fileContainingSymbol', value: 'larder.rpctest.v1.EchoRequest' } },
      { messageRequest: { case: 'fileByFilename', value: 'missing.proto' } },
    ])) {
      responses.push(response);
    }
    expect(responses[0]?.validHost).toBe('h');
    const first = responses[0]?.messageResponse;
    expect(first?.case).toBe('fileDescriptorResponse');
    if (first?.case === 'fileDescriptorResponse') {
      expect(fromBinary(FileDescriptorProtoSchema, first.value.fileDescriptorProto[0] as Uint8Array).name).toBe('larder/rpctest/v1/echo.proto');
    }
    expect(responses[1]?.messageResponse.case).toBe('errorResponse');
  });
});

describe('metrics endpoint', () => {
  test('/metrics counts rpcs by method and code; /healthz and /readyz follow health', async () => {
    const server = await start();
    const echo = client(EchoService, server);
    await echo.echo({ text: 'a' });
    await codeOf(echo.echo({ fail: 'not-found' }));
    const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    expect(text).toMatch(/grpc_server_handled_total\{[^}]*grpc_service="larder.rpctest.v1.EchoService"[^}]*grpc_method="Echo"[^}]*grpc_code="OK"[^}]*\} 1/);
    expect(text).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="Echo"[^}]*grpc_code="NOT_FOUND"[^}]*\} 1/);
    expect(text).toMatch(/grpc_server_handling_seconds_count\{[^}]*grpc_method="Echo"[^}]*\} 2/);
    expect(text).toMatch(/grpc_server_in_flight\{[^}]*grpc_method="Echo"[^}]*\} 0/);
    expect(text).toContain('process_cpu_user_seconds_total');
    expect((await fetch(`${server.metricsUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.metricsUrl}/readyz`)).status).toBe(200);
    server.health.setStatus('', ServingStatus.NOT_SERVING);
    expect((await fetch(`${server.metricsUrl}/readyz`)).status).toBe(503);
  });

  test('a metrics guard decides who reads /metrics; /healthz and /readyz stay open', async () => {
    const seen: (string | undefined)[] = [];
    const server = await startServer({
      name: 'server-test',
      services: [implement(EchoService, echoImpl(newObserved()))],
      config: testConfig(),
      logger: memoryLogger().logger,
      metricsGuard: async (req) => {
        seen.push(req.headers.authorization);
        return req.headers.authorization === 'Bearer reader'
          ? undefined
          : { status: 401, headers: { 'www-authenticate': 'Bearer' }, body: '{"error":{"code":"UNAUTHENTICATED","message":"missing bearer token"}}' };
      },
    });
    servers.push(server);
    const refused = await fetch(`${server.metricsUrl}/metrics`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    expect(await refused.json()).toEqual({ error: { code: 'UNAUTHENTICATED', message: 'missing bearer token' } });
    const allowed = await fetch(`${server.metricsUrl}/metrics`, { headers: { authorization: 'Bearer reader' } });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toContain('process_cpu_user_seconds_total');
    expect((await fetch(`${server.metricsUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.metricsUrl}/readyz`)).status).toBe(200);
    // The probes never reached the guard.
    expect(seen).toEqual([undefined, 'Bearer reader']);
  });
});

describe('interceptors', () => {
  test('run around the application services only: health and reflection answer without them', async () => {
    const server = await startServer({
      name: 'server-test',
      services: [implement(EchoService, echoImpl(newObserved()))],
      config: testConfig(),
      logger: memoryLogger().logger,
      interceptors: [
        async () => {
          throw new RpcError(Code.UNAUTHENTICATED, 'missing bearer token');
        },
      ],
    });
    servers.push(server);
    expect(await codeOf(client(EchoService, server).echo({ text: 'a' }))).toBe(Code.UNAUTHENTICATED);
    expect((await client(healthV1.Health, server).check({ service: '' })).status).toBe(ServingStatus.SERVING);
  });
});

describe('graceful shutdown', () => {
  test('an in-flight call completes during drain while new calls are refused', async () => {
    const server = await start({ gracePeriod: 5000 });
    const echo = client(EchoService, server);
    const health = client(healthV1.Health, server);
    await echo.echo({ text: 'warm up' });
    const inFlight = echo.echo({ text: 'slow', delayMs: 400 });
    while (server.inFlight() === 0) await sleep(5);

    const shutdown = server.shutdown('test');
    expect(server.state).toBe('draining');
    expect((await health.check({ service: '' })).status).toBe(ServingStatus.NOT_SERVING);
    expect(await codeOf(echo.echo({ text: 'late' }))).toBe(Code.UNAVAILABLE);

    expect((await inFlight).text).toBe('slow');
    const result = await shutdown;
    expect(result.forced).toBe(false);
    expect(server.state).toBe('stopped');
    expect(await codeOf(echo.echo({ text: 'after' }, { timeoutMs: 1000 }))).toBe(Code.UNAVAILABLE);
  });

  test('drain and close hooks run in order; calls still running at the grace period are cancelled', async () => {
    const server = await start({ gracePeriod: 300 });
    const events: string[] = [];
    server.onDrain(async () => {
      events.push('drain');
    });
    server.onClose(() => void events.push('close stores'));
    server.onClose(() => void events.push('close consumers'));
    const echo = client(EchoService, server);
    const stuck = codeOf(echo.echo({ text: 'stuck', delayMs: 60_000 }));
    while (server.inFlight() === 0) await sleep(5);
    const started = Date.now();
    const result = await server.shutdown('test');
    expect(result.forced).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(events).toEqual(['drain', 'close consumers', 'close stores']);
    expect([Code.UNAVAILABLE, Code.CANCELLED]).toContain(await stuck);
  });
});
