import { create, toBinary } from '@bufbuild/protobuf';
import { createClient } from './adapter/client';
import { implement } from './adapter/types';
import { startServer } from './server';
import { EchoResponseSchema } from './testing/gen/larder/rpctest/v1/echo_pb';
import { EchoService, memoryLogger, testConfig } from './testing/echo-service';

test('a registered response encoder writes the bytes the client receives', async () => {
  let encoded = 0;
  const server = await startServer({
    name: 'encoders-test',
    services: [
      implement(
        EchoService,
        { echo: (request) => ({ text: request.text }) },
        {
          encoders: {
            // Proves the hook is on the wire path: it rewrites the text.
            echo: (response) => {
              encoded++;
              return toBinary(EchoResponseSchema, create(EchoResponseSchema, { ...response, text: `${response.text}!` }));
            },
          },
        },
      ),
    ],
    config: testConfig(),
    logger: memoryLogger().logger,
  });
  const client = createClient(EchoService, server.address);
  try {
    expect((await client.echo({ text: 'hi' })).text).toBe('hi!');
    expect(encoded).toBe(1);
  } finally {
    client.close();
    await server.shutdown('test done');
  }
});
