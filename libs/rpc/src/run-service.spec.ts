import { Counter, Registry } from 'prom-client';
import { healthV1 } from '@larder/proto';
import { createClient } from './adapter/client';
import { implement } from './adapter/types';
import { int } from '@larder/config';
import { ConfigError } from '@larder/config';
import { createLogger } from './logger';
import { runService } from './run-service';
import { serverConfigSchema } from './server-config';
import { echoImpl, EchoService, newObserved } from './testing/echo-service';

const schema = { ...serverConfigSchema(), cache: { size: int({ default: 10, min: 1, env: 'LARDER_CACHE_SIZE' }) } };
const testEnv = { LARDER_GRPC_HOST: '127.0.0.1', LARDER_GRPC_PORT: '0', LARDER_METRICS_HOST: '127.0.0.1', LARDER_METRICS_PORT: '0', LARDER_LOG_LEVEL: 'debug' };

test('runService starts, logs where it listens, and exits 0 after a graceful SIGTERM', async () => {
  const lines: string[] = [];
  let exitCode: number | undefined;
  const closed: string[] = [];
  const handle = await runService({
    name: 'echo',
    schema,
    env: { ...testEnv, LARDER_CACHE_SIZE: '42' },
    argv: [],
    write: (line) => void lines.push(line),
    exit: (code) => void (exitCode = code),
    setup: ({ config }) => {
      expect(config.cache.size).toBe(42);
      return { services: [implement(EchoService, echoImpl(newObserved()))], closeHooks: [() => void closed.push('store')] };
    },
  });
  if (!handle) throw new Error('did not start');
  const listening = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r.msg === 'listening');
  // The addresses the sockets are bound to (testEnv binds loopback).
  expect(listening).toMatchObject({ service: 'echo', level: 'info', grpc: `127.0.0.1:${handle.port}`, metrics: `http://127.0.0.1:${handle.metricsPort}` });

  const health = createClient(healthV1.Health, handle.address);
  expect((await health.check({ service: 'larder.rpctest.v1.EchoService' })).status).toBe(healthV1.HealthCheckResponse_ServingStatus.SERVING);
  health.close();

  process.emit('SIGTERM', 'SIGTERM');
  while (exitCode === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(exitCode).toBe(0);
  expect(closed).toEqual(['store']);
  expect(handle.state).toBe('stopped');
  expect(process.listenerCount('SIGTERM')).toBe(0);
});

test('runService exits 2 on bad configuration and logs every problem', async () => {
  const lines: string[] = [];
  let exitCode: number | undefined;
  const handle = await runService({
    name: 'echo',
    schema,
    env: { ...testEnv, LARDER_GRPC_PORT: 'abc', LARDER_CACHE_SIZE: '0' },
    argv: [],
    write: (line) => void lines.push(line),
    exit: (code) => void (exitCode = code),
    setup: () => ({ services: [] }),
  });
  expect(handle).toBeUndefined();
  expect(exitCode).toBe(2);
  const record = JSON.parse(lines[0] as string) as { level: string; msg: string };
  expect(record.level).toBe('error');
  expect(record.msg).toContain('grpc.port: expected an integer from 0 to 65535 but got "abc" (environment variable LARDER_GRPC_PORT)');
  expect(record.msg).toContain('cache.size: expected an integer of at least 1 but got "0" (environment variable LARDER_CACHE_SIZE)');
});

test('runService exits 2 when setup finds bad configuration (a ConfigError), naming the key', async () => {
  const lines: string[] = [];
  let exitCode: number | undefined;
  const handle = await runService({
    name: 'echo',
    schema,
    env: testEnv,
    argv: [],
    write: (line) => void lines.push(line),
    exit: (code) => void (exitCode = code),
    setup: () => {
      throw new ConfigError([{ key: 'auth.modes', problem: 'mode none is only allowed on loopback listeners', source: 'LARDER_AUTH_MODES / bind.host' }]);
    },
  });
  expect(handle).toBeUndefined();
  expect(exitCode).toBe(2);
  const record = JSON.parse(lines[0] as string) as { level: string; msg: string };
  expect(record.level).toBe('error');
  expect(record.msg).toBe('invalid configuration: auth.modes: mode none is only allowed on loopback listeners (LARDER_AUTH_MODES / bind.host)');
});

test('logger writes JSON lines with level filtering and child fields', () => {
  const lines: string[] = [];
  const logger = createLogger({ service: 'svc', level: 'info', write: (l) => void lines.push(l), now: () => new Date('2024-01-02T03:04:05Z') });
  logger.debug('hidden');
  logger.child({ view: 'drivers' }).warn('slow read', { ms: 12, err: new Error('boom', { cause: new Error('root') }) });
  expect(lines).toHaveLength(1);
  const record = JSON.parse(lines[0] as string) as Record<string, unknown>;
  expect(record).toMatchObject({ time: '2024-01-02T03:04:05.000Z', level: 'warn', service: 'svc', msg: 'slow read', view: 'drivers', ms: 12 });
  expect(record.err).toMatchObject({ name: 'Error', message: 'boom', cause: { message: 'root' } });
  expect(lines[0]?.endsWith('\n')).toBe(true);
});

test("a service's own metrics from setup are served on /metrics beside the rpc metrics", async () => {
  const registry = new Registry();
  const jobs = new Counter({ name: 'larder_test_jobs_total', help: 'Jobs done.', registers: [registry] });
  jobs.inc(3);
  const handle = await runService({
    name: 'echo',
    schema,
    env: testEnv,
    argv: [],
    handleSignals: false,
    write: () => undefined,
    setup: () => ({ services: [implement(EchoService, echoImpl(newObserved()))], metrics: [registry] }),
  });
  if (!handle) throw new Error('did not start');
  try {
    const text = await (await fetch(`${handle.metricsUrl}/metrics`)).text();
    expect(text).toMatch(/^larder_test_jobs_total\{service="echo"\} 3$/m);
    expect(text).toContain('grpc_server_started_total');
  } finally {
    await handle.shutdown('test done');
  }
});
