import { setTimeout as sleep } from 'node:timers/promises';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Code } from '../code';
import { MAX_STATUS_MESSAGE_BYTES, RpcError } from '../rpc-error';
import { startServer } from '../server';
import type { ServerHandle } from '../server';
import type { ServerInterceptor } from './types';
import { implement } from './types';
import { createClient } from './client';
import type { RpcClient } from './client';
import { echoErrorMappings, echoImpl, EchoService, memoryLogger, newObserved, SECRET, testConfig } from '../testing/echo-service';
import type { Observed } from '../testing/echo-service';
import { EchoRequestSchema, EchoResponseSchema } from '../testing/gen/larder/rpctest/v1/echo_pb';
import { Client as GrpcClient, credentials } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';

async function* items<T>(values: T[], gapMs = 0): AsyncGenerator<T> {
  for (const value of values) {
    if (gapMs > 0) await sleep(gapMs);
    yield value;
  }
}

async function collectAll<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RpcError);
    return error as RpcError;
  }
  throw new Error('expected the call to fail');
}

describe('protobuf-es <-> grpc-js adapter over a real socket', () => {
  let server: ServerHandle;
  let client: RpcClient<typeof EchoService>;
  let observed: Observed;
  let log: ReturnType<typeof memoryLogger>;
  const order: string[] = [];

  beforeAll(async () => {
    observed = newObserved();
    log = memoryLogger();
    const recordOrder =
      (name: string): ServerInterceptor =>
      async (ctx, next) => {
        order.push(`${name}:before:${ctx.call.method}`);
        try {
          await next();
        } finally {
          order.push(`${name}:after:${ctx.call.method}`);
        }
      };
    const auth: ServerInterceptor = async (ctx, next) => {
      if (ctx.headers['authorization'] === 'Bearer nope') throw new RpcError(Code.UNAUTHENTICATED, 'bad token');
      ctx.state.set('user', 'alice');
      await next();
    };
    server = await startServer({
      name: 'adapter-test',
      services: [implement(EchoService, echoImpl(observed))],
      config: testConfig(),
      logger: log.logger,
      interceptors: [recordOrder('first'), recordOrder('second'), auth],
      errorMappings: echoErrorMappings(),
    });
    client = createClient(EchoService, server.address);
  });

  afterAll(async () => {
    client.close();
    await server.shutdown('test done');
  });

  test('unary round trip carries headers, response headers and trailers', async () => {
    let responseHeaders: Record<string, string> = {};
    let trailers: Record<string, string> = {};
    const response = await client.echo(
      { text: 'hello' },
      { headers: { 'x-request-id': 'req-1', 'x-team': 'ml' }, onHeader: (h) => (responseHeaders = h), onTrailer: (t) => (trailers = t) },
    );
    expect(response.text).toBe('hello');
    expect(observed.headers.at(-1)).toMatchObject({ 'x-request-id': 'req-1', 'x-team': 'ml' });
    expect(responseHeaders['x-echo-header']).toBe('h');
    expect(trailers['x-echo-trailer']).toBe('t');
  });

  test('server streaming returns every message in order', async () => {
    const responses = await collectAll(client.echoMany({ text: 'x', repeat: 50 }));
    expect(responses.map((r) => r.index)).toEqual([...Array(50).keys()]);
  });

  test('server streaming respects backpressure with large messages', async () => {
    // ~64 MiB in total: far beyond the socket and HTTP/2 windows, so write() must return false and wait for drain.
    const big = 'y'.repeat(256 * 1024);
    let count = 0;
    for await (const response of client.echoMany({ text: big, repeat: 256 })) {
      expect(response.text.length).toBe(big.length);
      count++;
    }
    expect(count).toBe(256);
  });

  test('client streaming gathers the whole request stream', async () => {
    const response = await client.collect(items([{ text: 'a' }, { text: 'b' }, { text: 'c' }], 5));
    expect(response).toMatchObject({ text: 'a,b,c', index: 3 });
  });

  test('bidi streaming answers each message as it arrives', async () => {
    const responses = await collectAll(client.chat(items([{ text: 'one' }, { text: 'two' }], 5)));
    expect(responses.map((r) => r.text)).toEqual(['ONE', 'TWO']);
  });

  test('an RpcError keeps its code, message and metadata', async () => {
    const error = await rejection(client.echo({ fail: 'not-found' }));
    expect(error.code).toBe(Code.NOT_FOUND);
    expect(error.message).toBe('feature view "drivers" not found');
    expect(error.metadata['x-missing']).toBe('drivers');
  });

  test("domain errors in the server's mappings and errors with a code name map to their status", async () => {
    const quota = await rejection(client.echo({ fail: 'quota' }));
    expect(quota.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(quota.message).toBe('quota "reads" is used up');
    const coded = await rejection(client.echo({ fail: 'coded' }));
    expect(coded.code).toBe(Code.INVALID_ARGUMENT);
    expect(coded.message).toBe('bad feature ref "x"');
  });

  test('unexpected errors become INTERNAL without leaking the cause, which is logged', async () => {
    for (const fail of ['internal', 'string']) {
      const error = await rejection(client.echo({ fail }, { headers: { 'x-request-id': `leak-${fail}` } }));
      expect(error.code).toBe(Code.INTERNAL);
      expect(error.message).toBe(`internal error (see server logs, request id leak-${fail})`);
      expect(error.message).not.toContain('SELECT');
      expect(error.message).not.toMatch(/\bat .*\.ts:\d+/);
      expect(JSON.stringify(error.metadata)).not.toContain('SELECT');
    }
    const logged = log.records().find((r) => r.requestId === 'leak-internal' && r.level === 'error');
    expect(JSON.stringify(logged)).toContain(SECRET);
    expect(JSON.stringify(logged)).toContain('echo-service.ts');
  });

  test('an error in the middle of a server stream ends it with the mapped status', async () => {
    const received: number[] = [];
    const error = await rejection(
      (async () => {
        for await (const response of client.echoMany({ text: 'x', repeat: 5, fail: 'internal' })) received.push(response.index);
      })(),
    );
    expect(received).toEqual([0, 1]);
    expect(error.code).toBe(Code.INTERNAL);
    expect(error.message).not.toContain('SELECT');
  });

  test('methods without a handler answer UNIMPLEMENTED', async () => {
    const error = await rejection(client.unimplemented({}));
    expect(error.code).toBe(Code.UNIMPLEMENTED);
    expect(error.message).toContain('/larder.rpctest.v1.EchoService/Unimplemented');
  });

  test('a deadline passing aborts the handler and the client sees DEADLINE_EXCEEDED', async () => {
    const before = observed.aborted.length;
    const started = Date.now();
    const error = await rejection(client.echo({ delayMs: 5000 }, { timeoutMs: 150 }));
    expect(error.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(2000);
    await waitFor(() => observed.aborted.length > before);
    const reason = observed.aborted.at(-1)?.reason as RpcError;
    expect(reason.code).toBe(Code.DEADLINE_EXCEEDED);
  });

  test('cancelling a server stream on the client aborts the handler and runs its finally', async () => {
    const abortedBefore = observed.aborted.length;
    const finallyBefore = observed.streamFinally;
    const controller = new AbortController();
    const received: number[] = [];
    const error = await rejection(
      (async () => {
        for await (const response of client.echoMany({ text: 'x', repeat: 1000, delayMs: 20 }, { signal: controller.signal })) {
          received.push(response.index);
          if (received.length === 3) controller.abort();
        }
      })(),
    );
    expect(error.code).toBe(Code.CANCELLED);
    await waitFor(() => observed.streamFinally > finallyBefore && observed.aborted.length > abortedBefore);
    expect((observed.aborted.at(-1)?.reason as RpcError).code).toBe(Code.CANCELLED);
    expect(server.inFlight()).toBe(0);
  });

  test('breaking out of a server stream early cancels the call', async () => {
    const finallyBefore = observed.streamFinally;
    for await (const response of client.echoMany({ text: 'x', repeat: 1000, delayMs: 10 })) {
      if (response.index === 2) break;
    }
    await waitFor(() => observed.streamFinally > finallyBefore);
    await waitFor(() => server.inFlight() === 0);
  });

  test('interceptors run in order around the handler', async () => {
    order.length = 0;
    await client.echo({ text: 'order' });
    expect(order).toEqual(['first:before:Echo', 'second:before:Echo', 'second:after:Echo', 'first:after:Echo']);
  });

  test('an error echoing 100 kB of input reaches the client promptly, its message cut to 4 KiB', async () => {
    const name = 'n'.repeat(100_000);
    const started = Date.now();
    const error = await rejection(client.echo({ text: name, fail: 'echo' }, { timeoutMs: 10_000 }));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.code).toBe(Code.INVALID_ARGUMENT);
    expect(error.message.startsWith('unknown name "nnnn')).toBe(true);
    expect(error.message).toMatch(/\[message truncated: 100015 bytes in all\]$/);
    expect(Buffer.byteLength(error.message)).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_BYTES);
  });

  test('request bytes that do not decode are INVALID_ARGUMENT, not INTERNAL, and reach no handler', async () => {
    const raw = new GrpcClient(server.address, credentials.createInsecure());
    const garbage = Buffer.from([0x0a, 0xff, 0x01]); // field 1, length 255, then one byte
    const before = observed.headers.length;
    try {
      const unary = await new Promise<ServiceError>((resolve, reject) => {
        raw.makeUnaryRequest(
          '/larder.rpctest.v1.EchoService/Echo',
          (b: Buffer) => b,
          (b: Buffer) => b,
          garbage,
          (error) => {
            if (error) resolve(error);
            else reject(new Error('expected the call to fail'));
          },
        );
      });
      expect(unary.code).toBe(Code.INVALID_ARGUMENT);
      expect(unary.details).toMatch(/^request is not a valid larder\.rpctest\.v1\.EchoRequest message: /);
      const streamed = await new Promise<ServiceError>((resolve, reject) => {
        const call = raw.makeClientStreamRequest(
          '/larder.rpctest.v1.EchoService/Collect',
          (b: Buffer) => b,
          (b: Buffer) => b,
          (error) => {
            if (error) resolve(error);
            else reject(new Error('expected the call to fail'));
          },
        );
        call.write(Buffer.from(toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: 'fine' }))));
        call.write(garbage);
        call.end();
      });
      expect(streamed.code).toBe(Code.INVALID_ARGUMENT);
      expect(streamed.details).toMatch(/EchoRequest message/);
      expect(observed.headers.length).toBe(before);
    } finally {
      raw.close();
    }
  });

  test('a rejecting interceptor stops the call with its status', async () => {
    const before = observed.headers.length;
    const error = await rejection(client.echo({ text: 'x' }, { headers: { authorization: 'Bearer nope' } }));
    expect(error.code).toBe(Code.UNAUTHENTICATED);
    expect(error.message).toBe('bad token');
    expect(observed.headers.length).toBe(before);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('hand-written encoders and decoders on streaming methods', () => {
  test('a server-streaming encoder writes every message, and a client decoder reads each one', async () => {
    let encoded = 0;
    let decoded = 0;
    const server = await startServer({
      name: 'stream-encoders-test',
      services: [
        implement(EchoService, echoImpl(newObserved()), {
          encoders: {
            // Rewrites the text, proving each streamed message goes through the hook.
            echoMany: (response) => {
              encoded++;
              return toBinary(EchoResponseSchema, create(EchoResponseSchema, { ...response, text: `${response.text}!` }));
            },
          },
        }),
      ],
      config: testConfig(),
      logger: memoryLogger().logger,
    });
    const plain = createClient(EchoService, server.address);
    const decoding = createClient(EchoService, server.address, {
      decoders: {
        echoMany: (bytes) => {
          decoded++;
          const message = fromBinary(EchoResponseSchema, bytes);
          return { ...message, text: `${message.text}?` };
        },
      },
    });
    try {
      const responses = await collectAll(plain.echoMany({ text: 'x', repeat: 5 }));
      expect(responses.map((r) => [r.text, r.index])).toEqual([0, 1, 2, 3, 4].map((i) => ['x!', i]));
      expect(encoded).toBe(5);
      const viaDecoder = await collectAll(decoding.echoMany({ text: 'y', repeat: 3 }));
      expect(viaDecoder.map((r) => r.text)).toEqual(['y!?', 'y!?', 'y!?']);
      expect(decoded).toBe(3);
      expect(encoded).toBe(8);
    } finally {
      plain.close();
      decoding.close();
      await server.shutdown('test done');
    }
  });

  test('a server request decoder answers for the bytes it reads; fromBinary takes the rest, invalid bytes still INVALID_ARGUMENT', async () => {
    const seen: string[] = [];
    const server = await startServer({
      name: 'request-decoders-test',
      services: [
        implement(EchoService, echoImpl(newObserved()), {
          decoders: {
            // Reads only requests whose text is 'fast' (and marks them); leaves everything else.
            echo: (bytes) => {
              const message = fromBinary(EchoRequestSchema, bytes);
              seen.push(message.text);
              return message.text === 'fast' ? { ...message, text: 'fast (hand-decoded)' } : undefined;
            },
          },
        }),
      ],
      config: testConfig(),
      logger: memoryLogger().logger,
    });
    const client = createClient(EchoService, server.address);
    const raw = new GrpcClient(server.address, credentials.createInsecure());
    try {
      expect((await client.echo({ text: 'fast' })).text).toBe('fast (hand-decoded)');
      expect((await client.echo({ text: 'slow' })).text).toBe('slow');
      expect(seen).toEqual(['fast', 'slow']);
      // A decoder that throws on bad bytes is treated as leaving them: fromBinary refuses them as before.
      const invalid = await new Promise<ServiceError>((resolve, reject) => {
        raw.makeUnaryRequest(
          '/larder.rpctest.v1.EchoService/Echo',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0x0a, 0xff, 0x01]),
          (error) => (error ? resolve(error) : reject(new Error('expected the call to fail'))),
        );
      });
      expect(invalid.code).toBe(Code.INVALID_ARGUMENT);
      expect(invalid.details).toMatch(/^request is not a valid larder\.rpctest\.v1\.EchoRequest message: /);
    } finally {
      client.close();
      raw.close();
      await server.shutdown('test done');
    }
  });
});
