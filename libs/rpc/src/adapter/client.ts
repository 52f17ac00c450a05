import { create } from '@bufbuild/protobuf';
import type { DescMessage, DescMethod, DescService, Message, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import { Client, credentials as grpcCredentials, Metadata } from '@grpc/grpc-js';
import type { CallOptions, Channel, ChannelCredentials, ChannelOptions, ClientDuplexStream, Interceptor, ClientReadableStream } from '@grpc/grpc-js';
import type { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { Code } from '../code';
import { RpcError } from '../rpc-error';
import { methodDefinition } from './definition';
import { flattenMetadata } from './call-context';
import { drained } from './streams';
import type { ResponseDecoders } from './types';
import { bearerTokenInterceptor, staticToken } from '../tls/bearer-token';
import type { TokenSource } from '../tls/bearer-token';
import { clientTlsCredentials } from '../tls/client-tls';
import type { ClientTlsOptions } from '../tls/client-tls';

export interface CallOptionsOf {
  /** Absolute deadline; wins over timeoutMs. */
  deadline?: Date;
  timeoutMs?: number;
  /** Request metadata. */
  headers?: Record<string, string>;
  /** Cancels the call; the promise or stream then fails with CANCELLED. */
  signal?: AbortSignal;
  /** Receives the response headers. */
  onHeader?: (headers: Record<string, string>) => void;
  /** Receives the trailers with the status. */
  onTrailer?: (trailers: Record<string, string>) => void;
}
export type { CallOptionsOf as RpcCallOptions };

type Init<D extends DescMessage> = MessageInitShape<D>;
type Shape<D extends DescMessage> = MessageShape<D>;

export type ClientMethod<M> = M extends { methodKind: 'unary'; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? (request: Init<I>, options?: CallOptionsOf) => Promise<Shape<O>>
  : M extends { methodKind: 'server_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? (request: Init<I>, options?: CallOptionsOf) => AsyncIterable<Shape<O>>
    : M extends { methodKind: 'client_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? (requests: AsyncIterable<Init<I>> | Iterable<Init<I>>, options?: CallOptionsOf) => Promise<Shape<O>>
      : M extends { methodKind: 'bidi_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? (requests: AsyncIterable<Init<I>> | Iterable<Init<I>>, options?: CallOptionsOf) => AsyncIterable<Shape<O>>
        : never;

export type RpcClient<S extends DescService> = {
  readonly [K in keyof S['method']]: ClientMethod<S['method'][K]>;
} & {
  /** Closes the channel (unless it was passed in); calls in flight fail. */
  close(): void;
};

export interface ClientOptions {
  /** Plaintext unless `tls` or credentials are given. */
  credentials?: ChannelCredentials;
  /** Speak TLS: a CA bundle, an optional client certificate, a server-name override; the files are read again when they change. */
  tls?: ClientTlsOptions;
  /** Sent as `authorization: Bearer <token>` with every call: a TokenSource (e.g. tokenFromFile) or a fixed token. */
  token?: TokenSource | string;
  channelOptions?: ChannelOptions;
  /** grpc-js client interceptors, passed through. */
  interceptors?: Interceptor[];
  /** Applied when a call sets neither deadline nor timeoutMs. */
  defaultTimeoutMs?: number;
}

/** ClientOptions plus hand-written response decoders for hot methods (e.g. @larder/proto's `wire`). */
export interface ServiceClientOptions<S extends DescService> extends ClientOptions {
  decoders?: ResponseDecoders<S>;
}

/**
 * What a client accepts unless told otherwise: our servers' default
 * grpc.maxMessageBytes (16 MiB), not grpc's 4 MiB, so an answer a server may send
 * is one its clients can take.
 */
export const DEFAULT_MAX_RECEIVE_BYTES = 16 * 1024 * 1024;

/**
 * A typed client for `service` at `target` ("host:port" or an existing
 * grpc-js Channel, which is then shared and left open by close()).
 */
export function createClient<S extends DescService>(service: S, target: string | Channel, options: ServiceClientOptions<S> = {}): RpcClient<S> {
  if (options.tls !== undefined && options.credentials !== undefined) throw new Error('createClient: give tls or credentials, not both');
  const tls = options.tls === undefined ? undefined : clientTlsCredentials(options.tls);
  const clientOptions: ConstructorParameters<typeof Client>[2] = {
    'grpc.max_receive_message_length': DEFAULT_MAX_RECEIVE_BYTES,
    ...tls?.channelOptions,
    ...options.channelOptions,
  };
  const token = typeof options.token === 'string' ? staticToken(options.token) : options.token;
  const interceptors = [...(token === undefined ? [] : [bearerTokenInterceptor(token)]), ...(options.interceptors ?? [])];
  if (interceptors.length > 0) clientOptions.interceptors = interceptors;
  let address = 'unused';
  if (typeof target === 'string') address = target;
  else clientOptions.channelOverride = target;
  const client = new Client(address, tls?.credentials ?? options.credentials ?? grpcCredentials.createInsecure(), clientOptions);
  const methods: Record<string, unknown> = {};
  const decoders = (options.decoders ?? {}) as Readonly<Record<string, ((bytes: Uint8Array) => Message) | undefined>>;
  for (const method of service.methods) methods[method.localName] = clientMethod(client, method, options, decoders[method.localName]);
  methods.close = typeof target === 'string' ? () => client.close() : () => undefined;
  return methods as RpcClient<S>;
}

function clientMethod(client: Client, method: DescMethod, clientOptions: ClientOptions, decode: ((bytes: Uint8Array) => Message) | undefined): unknown {
  const def = methodDefinition(method, undefined, decode);
  const toMessage = (init: unknown): Message => create(method.input, init as Message);
  switch (method.methodKind) {
    case 'unary':
      return (request: unknown, options: CallOptionsOf = {}) =>
        new Promise<Message>((resolve, reject) => {
          const call = client.makeUnaryRequest(
            def.path,
            def.requestSerialize,
            def.responseDeserialize,
            toMessage(request),
            metadataOf(options),
            callOptions(options, clientOptions),
            (error, value) => {
              unlink();
              if (error) reject(RpcError.fromStatus(error));
              else resolve(value as Message);
            },
          );
          const unlink = linkCall(call, options);
        });
    case 'server_streaming':
      return (request: unknown, options: CallOptionsOf = {}) => ({
        [Symbol.asyncIterator]: () => {
          const call = client.makeServerStreamRequest(
            def.path,
            def.requestSerialize,
            def.responseDeserialize,
            toMessage(request),
            metadataOf(options),
            callOptions(options, clientOptions),
          );
          return readResponses(call, linkCall(call, options));
        },
      });
    case 'client_streaming':
      return (requests: AsyncIterable<unknown> | Iterable<unknown>, options: CallOptionsOf = {}) =>
        new Promise<Message>((resolve, reject) => {
          const call = client.makeClientStreamRequest(
            def.path,
            def.requestSerialize,
            def.responseDeserialize,
            metadataOf(options),
            callOptions(options, clientOptions),
            (error, value) => {
              unlink();
              if (error) reject(RpcError.fromStatus(error));
              else resolve(value as Message);
            },
          );
          const unlink = linkCall(call, options);
          pump(call, requests, toMessage).catch((error: unknown) => {
            call.cancel();
            reject(error instanceof RpcError ? error : new RpcError(Code.CANCELLED, `request stream failed: ${String(error)}`, { cause: error }));
          });
        });
    case 'bidi_streaming':
      return (requests: AsyncIterable<unknown> | Iterable<unknown>, options: CallOptionsOf = {}) => ({
        [Symbol.asyncIterator]: () => {
          const call = client.makeBidiStreamRequest(
            def.path,
            def.requestSerialize,
            def.responseDeserialize,
            metadataOf(options),
            callOptions(options, clientOptions),
          );
          const unlink = linkCall(call, options);
          let pumpError: unknown;
          pump(call, requests, toMessage).catch((error: unknown) => {
            pumpError = error;
            call.cancel();
          });
          return readResponses(call, unlink, () => pumpError);
        },
      });
  }
}

function metadataOf(options: CallOptionsOf): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(options.headers ?? {})) metadata.set(key, value);
  return metadata;
}

function callOptions(options: CallOptionsOf, clientOptions: ClientOptions): CallOptions {
  const timeout = options.timeoutMs ?? clientOptions.defaultTimeoutMs;
  if (options.deadline) return { deadline: options.deadline };
  if (timeout !== undefined) return { deadline: new Date(Date.now() + timeout) };
  return {};
}

/** Wires the abort signal and header/trailer callbacks to a call; returns the unlink function. */
function linkCall(call: EventEmitter & { cancel(): void }, options: CallOptionsOf): () => void {
  const { signal, onHeader, onTrailer } = options;
  if (onHeader) call.on('metadata', (md: Metadata) => onHeader(flattenMetadata(md)));
  if (onTrailer) call.on('status', (status: { metadata: Metadata }) => onTrailer(flattenMetadata(status.metadata)));
  if (!signal) return () => undefined;
  const onAbort = (): void => call.cancel();
  if (signal.aborted) queueMicrotask(onAbort);
  else signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

async function pump(call: Writable, requests: AsyncIterable<unknown> | Iterable<unknown>, toMessage: (init: unknown) => Message): Promise<void> {
  const never = new AbortController().signal;
  for await (const request of requests) {
    if (call.destroyed || call.writableEnded) return;
    if (!call.write(toMessage(request))) await drained(call, never);
  }
  if (!call.writableEnded) call.end();
}

/** Responses of a streaming call as an iterator; leaving early cancels the call. */
function readResponses(
  call: ClientReadableStream<Message> | ClientDuplexStream<Message, Message>,
  unlink: () => void,
  requestError: () => unknown = () => undefined,
): AsyncIterator<Message> {
  const queue: Message[] = [];
  let ended = false;
  let failure: RpcError | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const stream = call as Readable;
  stream.on('data', (message: Message) => {
    queue.push(message);
    if (queue.length >= 16) stream.pause();
    notify();
  });
  stream.on('end', () => {
    ended = true;
    notify();
  });
  // Always listened to, so a cancelled call never raises an unhandled 'error'.
  stream.on('error', (error: unknown) => {
    failure ??= RpcError.fromStatus(error as object);
    notify();
  });
  const finish = (): void => {
    unlink();
  };
  return {
    async next(): Promise<IteratorResult<Message>> {
      for (;;) {
        if (queue.length > 0) {
          const value = queue.shift() as Message;
          if (queue.length < 8 && stream.isPaused()) stream.resume();
          return { value, done: false };
        }
        if (failure) {
          finish();
          const cause = requestError();
          if (cause !== undefined && failure.code === Code.CANCELLED) {
            throw cause instanceof RpcError ? cause : new RpcError(Code.CANCELLED, `request stream failed: ${String(cause)}`, { cause });
          }
          throw failure;
        }
        if (ended) {
          finish();
          return { value: undefined, done: true };
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    async return(): Promise<IteratorResult<Message>> {
      if (!ended && !failure) call.cancel();
      finish();
      return { value: undefined, done: true };
    },
  };
}
