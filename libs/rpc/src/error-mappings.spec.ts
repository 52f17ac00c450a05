// Error mappings belong to a server: two servers in one process (as under `npm start`)
// map the same error class to different statuses, and neither changes the other's.
import { createClient } from './adapter/client';
import { implement } from './adapter/types';
import { Code } from './code';
import { ErrorMappings } from './error-mappings';
import { RpcError } from './rpc-error';
import { startServer } from './server';
import type { ServerHandle } from './server';
import { echoImpl, EchoService, memoryLogger, newObserved, QuotaError, testConfig } from './testing/echo-service';

class TightQuotaError extends QuotaError {}

describe('two servers in one process', () => {
  const servers: ServerHandle[] = [];
  let exhausted: ServerHandle;
  let unavailable: ServerHandle;
  let unmapped: ServerHandle;

  const start = async (name: string, errorMappings?: ErrorMappings): Promise<ServerHandle> => {
    const server = await startServer({
      name,
      services: [implement(EchoService, echoImpl(newObserved()))],
      config: testConfig({ metrics: false }),
      logger: memoryLogger().logger,
      ...(errorMappings && { errorMappings }),
    });
    servers.push(server);
    return server;
  };

  beforeAll(async () => {
    exhausted = await start('quota-exhausted', new ErrorMappings().map(QuotaError, Code.RESOURCE_EXHAUSTED));
    unavailable = await start(
      'quota-unavailable',
      new ErrorMappings().map(QuotaError, (e) => new RpcError(Code.UNAVAILABLE, `the quota service is down (${e.quota})`, { cause: e })),
    );
    unmapped = await start('quota-unmapped');
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.shutdown('test done')));
  });

  async function statusOf(server: ServerHandle): Promise<RpcError> {
    const client = createClient(EchoService, server.address);
    try {
      await client.echo({ fail: 'quota' });
    } catch (error) {
      return RpcError.from(error);
    } finally {
      client.close();
    }
    throw new Error('expected the call to fail');
  }

  test('each keeps its own code and message for the same error class, whichever started last', async () => {
    // Asked in both orders: a process-wide table would give both the last server's mapping.
    for (const server of [unavailable, exhausted, unavailable]) {
      const error = await statusOf(server);
      if (server === exhausted) expect([error.code, error.message]).toEqual([Code.RESOURCE_EXHAUSTED, 'quota "reads" is used up']);
      else expect([error.code, error.message]).toEqual([Code.UNAVAILABLE, 'the quota service is down (reads)']);
    }
  });

  test("a server without a mapping for the class answers INTERNAL, whatever the others' mappings", async () => {
    const error = await statusOf(unmapped);
    expect(error.code).toBe(Code.INTERNAL);
    expect(error.message).toMatch(/^internal error \(see server logs, request id /);
  });
});

describe('ErrorMappings', () => {
  test('a subclass takes its own mapping when it has one, else its nearest mapped parent', () => {
    const parentOnly = new ErrorMappings().map(QuotaError, Code.RESOURCE_EXHAUSTED);
    expect(parentOnly.toRpcError(new TightQuotaError('writes')).code).toBe(Code.RESOURCE_EXHAUSTED);
    const both = new ErrorMappings().map(QuotaError, Code.RESOURCE_EXHAUSTED).map(TightQuotaError, Code.FAILED_PRECONDITION);
    expect(both.toRpcError(new TightQuotaError('writes')).code).toBe(Code.FAILED_PRECONDITION);
    expect(both.toRpcError(new QuotaError('reads')).code).toBe(Code.RESOURCE_EXHAUSTED);
  });

  test('RpcError.from without mappings leaves a domain error INTERNAL, with the error as cause', () => {
    const error = new QuotaError('reads');
    const rpc = RpcError.from(error);
    expect(rpc.code).toBe(Code.INTERNAL);
    expect(rpc.cause).toBe(error);
  });
});
