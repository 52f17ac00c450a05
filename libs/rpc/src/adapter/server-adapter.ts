import { create } from '@bufbuild/protobuf';
import type { DescMethod, DescService, Message } from '@bufbuild/protobuf';
import { Metadata } from '@grpc/grpc-js';
import type {
  sendUnaryData,
  ServerDuplexStream,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  UntypedHandleCall,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { Code } from '../code';
import type { ErrorMappings } from '../error-mappings';
import type { Logger } from '../logger';
import { capStatusMessage, RpcError } from '../rpc-error';
import { CallContext } from './call-context';
import { methodPath, undecodableReason } from './definition';
import { drained, nextOrAbort, readMessages } from './streams';
import type { AnyHandler, CallInfo, HandlerContext, ServerInterceptor } from './types';

/** Tracks calls so that shutdown can refuse new ones, wait for old ones and abort the rest. */
export interface CallGate {
  /** Returns an error to refuse the call with, or a release function. */
  admit(ctx: HandlerContext, abort: (reason: RpcError) => void, drainable: boolean): RpcError | (() => void);
}

export interface ServerRuntime {
  logger: Logger;
  /** Runs first, around everything else, including refusals (logging and metrics). */
  observer?: ServerInterceptor;
  gate?: CallGate;
  interceptors: readonly ServerInterceptor[];
  /** This server's domain errors -> statuses; without it only RpcErrors and `code`-named errors keep their status. */
  errorMappings?: ErrorMappings;
}

type AnyCall =
  ServerUnaryCall<Message, Message> | ServerWritableStream<Message, Message> | ServerReadableStream<Message, Message> | ServerDuplexStream<Message, Message>;

/**
 * grpc-js handlers for every method of `service`, running `impl` through the
 * runtime's interceptors. This is the one place where thrown errors become
 * gRPC statuses.
 */
export function serviceHandlers(
  service: DescService,
  impl: Record<string, AnyHandler | undefined>,
  runtime: ServerRuntime,
  options: { drainable: boolean },
): UntypedServiceImplementation {
  const handlers: UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const handler = Object.hasOwn(impl, method.localName) ? impl[method.localName] : undefined;
    handlers[method.localName] = methodHandler(method, handler, runtime, options.drainable);
  }
  return handlers;
}

function methodHandler(method: DescMethod, handler: AnyHandler | undefined, runtime: ServerRuntime, drainable: boolean): UntypedHandleCall {
  const info: CallInfo = {
    service: method.parent.typeName,
    method: method.name,
    path: methodPath(method),
    kind: method.methodKind,
  };
  const bound = handler?.bind(undefined);

  const body = async (call: AnyCall, ctx: HandlerContext, flushHeaders: () => void): Promise<Message | undefined> => {
    if (!bound) throw new RpcError(Code.UNIMPLEMENTED, `${info.path} is not implemented by this server`);
    switch (method.methodKind) {
      case 'unary':
        return create(method.output, await bound(decoded(method, (call as ServerUnaryCall<Message, Message>).request), ctx));
      case 'client_streaming': {
        const requests = decodedAll(method, readMessages<Message>(call as ServerReadableStream<Message, Message>, ctx.signal));
        return create(method.output, await bound(requests, ctx));
      }
      case 'server_streaming': {
        const request = decoded(method, (call as ServerWritableStream<Message, Message>).request);
        await writeAll(call as ServerWritableStream<Message, Message>, method, bound(request, ctx), ctx.signal, flushHeaders);
        return undefined;
      }
      case 'bidi_streaming': {
        const requests = decodedAll(method, readMessages<Message>(call as ServerDuplexStream<Message, Message>, ctx.signal));
        await writeAll(call as ServerDuplexStream<Message, Message>, method, bound(requests, ctx), ctx.signal, flushHeaders);
        return undefined;
      }
    }
  };

  const run = (call: AnyCall, callback: sendUnaryData<Message> | undefined): void => {
    const ctx = new CallContext(call, info, runtime.logger);
    let headersSent = false;
    const flushHeaders = (): void => {
      if (headersSent) return;
      headersSent = true;
      if (ctx.responseHeaders !== undefined) call.sendMetadata(ctx.responseHeaders);
    };
    let response: Message | undefined;

    const inner = async (): Promise<void> => {
      try {
        response = await body(call, ctx, flushHeaders);
      } catch (error) {
        throw ctx.stopped() ?? RpcError.from(error, ctx.requestId, runtime.errorMappings);
      }
      const early = ctx.stopped();
      if (early) throw early;
    };
    const chain = compose(runtime.interceptors, ctx, inner);
    const gated = async (): Promise<void> => {
      const admitted = runtime.gate ? runtime.gate.admit(ctx, (why) => ctx.abort(why), drainable) : () => undefined;
      if (admitted instanceof RpcError) throw admitted;
      try {
        await chain();
      } finally {
        admitted();
      }
    };
    const outer = runtime.observer ? () => (runtime.observer as ServerInterceptor)(ctx, gated) : gated;

    outer().then(
      () => {
        ctx.dispose();
        flushHeaders();
        if (callback) callback(null, response, ctx.responseTrailers);
        else (call as ServerWritableStream<Message, Message>).end(ctx.responseTrailers);
      },
      (thrown: unknown) => {
        ctx.dispose();
        const error = RpcError.from(thrown, ctx.requestId, runtime.errorMappings);
        const metadata = ctx.responseTrailers?.clone() ?? new Metadata();
        for (const [key, value] of Object.entries(error.metadata)) metadata.set(key, value);
        flushHeaders();
        const status = { code: error.code as number, details: capStatusMessage(error.message), metadata };
        if (callback) callback(status);
        else (call as ServerWritableStream<Message, Message>).emit('error', status);
      },
    );
  };

  switch (method.methodKind) {
    case 'unary':
    case 'client_streaming':
      return (call: AnyCall, callback: sendUnaryData<Message>) => run(call, callback);
    default:
      return (call: AnyCall) => run(call, undefined);
  }
}

/** The request, or INVALID_ARGUMENT when its bytes did not decode (see definition.ts). */
function decoded(method: DescMethod, request: Message): Message {
  const reason = undecodableReason(request);
  if (reason !== undefined) {
    throw new RpcError(Code.INVALID_ARGUMENT, `request is not a valid ${method.input.typeName} message: ${reason}`);
  }
  return request;
}

async function* decodedAll(method: DescMethod, requests: AsyncIterable<Message>): AsyncGenerator<Message> {
  for await (const request of requests) yield decoded(method, request);
}

function compose(interceptors: readonly ServerInterceptor[], ctx: HandlerContext, inner: () => Promise<void>): () => Promise<void> {
  return interceptors.reduceRight<() => Promise<void>>((next, interceptor) => {
    let called = false;
    return () =>
      interceptor(ctx, () => {
        if (called) return Promise.reject(new Error('an interceptor called next() twice'));
        called = true;
        return next();
      });
  }, inner);
}

async function writeAll(
  call: ServerWritableStream<Message, Message> | ServerDuplexStream<Message, Message>,
  method: DescMethod,
  responses: AsyncIterable<unknown>,
  signal: AbortSignal,
  flushHeaders: () => void,
): Promise<void> {
  const iterator = responses[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const result = await nextOrAbort(iterator, signal);
      if (result === undefined || result.done) {
        finished = result !== undefined;
        return;
      }
      flushHeaders();
      if (!call.write(create(method.output, result.value as Message))) await drained(call, signal);
      if (signal.aborted) return;
    }
  } finally {
    // Stops the handler's generator (running its finally blocks) when we
    // leave early. Not awaited: a generator stuck in an await would hold up
    // the call's status.
    if (!finished) iterator.return?.().catch(() => undefined);
  }
}
