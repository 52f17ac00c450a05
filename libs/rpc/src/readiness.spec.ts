import { healthV1 } from '@larder/proto';
import { createClient } from './adapter/client';
import { implement } from './adapter/types';
import type { ReadinessCheck } from './adapter/types';
import { ServingStatus } from './health';
import { startServer } from './server';
import { echoImpl, EchoService, memoryLogger, newObserved, testConfig } from './testing/echo-service';

/** A readiness check the test turns on and off. */
function switchable(): ReadinessCheck & { set(reason: string | undefined): void } {
  let reason: string | undefined;
  const listeners = new Set<() => void>();
  return {
    notReadyReason: () => reason,
    onReadinessChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(next) {
      reason = next;
      for (const listener of listeners) listener();
    },
  };
}

test('a service whose readiness check gives a reason is NOT_SERVING (and the server), /readyz 503 with the reason, until it clears', async () => {
  const check = switchable();
  check.set('no registry snapshot yet');
  const memory = memoryLogger();
  const server = await startServer({
    name: 'readiness-test',
    services: [implement(EchoService, echoImpl(newObserved()), { readiness: check })],
    config: testConfig(),
    logger: memory.logger,
  });
  const health = createClient(healthV1.Health, server.address);
  try {
    const status = async (service: string) => (await health.check({ service })).status;
    const readyz = async () => {
      const res = await fetch(`${server.metricsUrl}/readyz`);
      return [res.status, await res.text()];
    };
    expect(await status('')).toBe(ServingStatus.NOT_SERVING);
    expect(await status('larder.rpctest.v1.EchoService')).toBe(ServingStatus.NOT_SERVING);
    expect(await readyz()).toEqual([503, 'not serving: larder.rpctest.v1.EchoService: no registry snapshot yet\n']);

    check.set(undefined);
    expect(await status('')).toBe(ServingStatus.SERVING);
    expect(await status('larder.rpctest.v1.EchoService')).toBe(ServingStatus.SERVING);
    expect(await readyz()).toEqual([200, 'ok\n']);

    check.set('the registry copy cannot follow: message too large');
    expect(await status('')).toBe(ServingStatus.NOT_SERVING);
    expect((await readyz())[1]).toBe('not serving: larder.rpctest.v1.EchoService: the registry copy cannot follow: message too large\n');
    expect(memory.lines.some((l) => l.includes('not ready') && l.includes('message too large'))).toBe(true);

    // Shutdown wins: a check clearing while draining does not turn the server back on.
    const stopping = server.shutdown('test');
    check.set(undefined);
    await stopping;
    expect(server.health.getStatus('')).toBe(ServingStatus.NOT_SERVING);
  } finally {
    health.close();
    await server.shutdown('test');
  }
});
