import { createClient } from './adapter/client';
import { Code } from './code';
import { pendingService } from './pending';
import { RpcError } from './rpc-error';
import { startServer } from './server';
import type { ServerHandle } from './server';
import { EchoService, memoryLogger, testConfig } from './testing/echo-service';

let server: ServerHandle;
let client: ReturnType<typeof createClient<typeof EchoService>>;

beforeAll(async () => {
  server = await startServer({
    name: 'pending-test',
    services: [pendingService(EchoService, 'issue #99: echo')],
    config: testConfig(),
    logger: memoryLogger().logger,
  });
  client = createClient(EchoService, server.address);
});

afterAll(async () => {
  client.close();
  await server.shutdown('afterAll');
});

async function failure(call: () => Promise<unknown>): Promise<RpcError> {
  try {
    await call();
  } catch (error) {
    return RpcError.from(error);
  }
  throw new Error('expected the call to fail');
}

const expected = (method: string): string => `larder.rpctest.v1.EchoService/${method} is not implemented yet (issue #99: echo)`;

test('a unary rpc answers UNIMPLEMENTED naming the rpc and the pending work', async () => {
  const error = await failure(() => client.echo({ text: 'x' }));
  expect(error.code).toBe(Code.UNIMPLEMENTED);
  expect(error.message).toContain(expected('Echo'));
});

test('streaming rpcs answer the same way', async () => {
  const serverStream = await failure(async () => {
    for await (const _ of client.echoMany({ text: 'x' })) void _;
  });
  expect(serverStream.code).toBe(Code.UNIMPLEMENTED);
  expect(serverStream.message).toContain(expected('EchoMany'));

  const clientStream = await failure(() => client.collect([{ text: 'a' }]));
  expect(clientStream.code).toBe(Code.UNIMPLEMENTED);
  expect(clientStream.message).toContain(expected('Collect'));

  const bidi = await failure(async () => {
    for await (const _ of client.chat([{ text: 'a' }])) void _;
  });
  expect(bidi.code).toBe(Code.UNIMPLEMENTED);
  expect(bidi.message).toContain(expected('Chat'));
});
