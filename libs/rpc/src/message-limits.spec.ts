import { createClient } from './adapter/client';
import { implement } from './adapter/types';
import { Code } from './code';
import { RpcError } from './rpc-error';
import { startServer } from './server';
import { echoImpl, EchoService, memoryLogger, newObserved, testConfig } from './testing/echo-service';

test("a client takes what a server may send (16 MiB by default, not grpc's 4 MiB), and a message over the server's limit is RESOURCE_EXHAUSTED", async () => {
  const server = await startServer({
    name: 'limits-test',
    services: [implement(EchoService, echoImpl(newObserved()))],
    config: testConfig({ metrics: false }),
    logger: memoryLogger().logger,
  });
  const client = createClient(EchoService, server.address);
  try {
    const text = 'x'.repeat(6 * 1024 * 1024);
    expect((await client.echo({ text })).text).toHaveLength(text.length);
    let error: unknown;
    try {
      await client.echo({ text: 'x'.repeat(17 * 1024 * 1024) });
    } catch (e) {
      error = e;
    }
    expect(RpcError.from(error).code).toBe(Code.RESOURCE_EXHAUSTED);
  } finally {
    client.close();
    await server.shutdown('test');
  }
});
