import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
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
import type { Logger } from '../logger';
import { RpcError } from '../rpc-error';
import { methodPath } from './definition';
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
}

type AnyCall =
  | ServerUnaryCall<Message, Message>
  | ServerWritableStream<Message, Message>
  | ServerReadableStream<Message, Message>
  | ServerDuplexStream<Message, Message>;

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

function methodHandler(
  method: DescMethod,
  handler: AnyHandler | undefined,
  runtime: ServerRuntime,
  drainable: boolean,
): UntypedHandleCall {
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
        return create(method.output, await bound((call as ServerUnaryCall<Message, Message>).request, ctx));
      case 'client_streaming': {
        const requests = readMessages<Message>(call as ServerReadableStream<Message, Message>, ctx.signal);
        return create(method.output, await bound(requests, ctx));
      }
      case 'server_streaming':
        await writeAll(call as ServerWritableStream<Message, Message>, method, bound((call as ServerWritableStream<Message, Message>).request, ctx), ctx.signal, flushHeaders);
        return undefined;
      case 'bidi_streaming': {
        const requests = readMessages<Message>(call as ServerDuplexStream<Message, Message>, ctx.signal);
        await writeAll(call as ServerDuplexStream<Message, Message>, method, bound(requests, ctx), ctx.signal, flushHeaders);
        return undefined;
      }
    }
  };

  const run = (call: AnyCall, callback: sendUnaryData<Message> | undefined): void => {
    const { ctx, abort, stopped, headers, trailers, dispose } = createContext(call, info, runtime.logger);
    let headersSent = false;
    const flushHeaders = (): void => {
      if (headersSent) return;
      headersSent = true;
      const set = headers();
      if (set !== undefined) call.sendMetadata(set);
    };
    let response: Message | undefined;

    const inner = async (): Promise<void> => {
      try {
        response = await body(call, ctx, flushHeaders);
      } catch (error) {
        throw stopped() ?? RpcError.from(error, ctx.requestId);
      }
      const early = stopped();
      if (early) throw early;
    };
    const chain = compose(runtime.interceptors, ctx, inner);
    const gated = async (): Promise<void> => {
      const admitted = runtime.gate ? runtime.gate.admit(ctx, abort, drainable) : () => undefined;
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
        dispose();
        flushHeaders();
        if (callback) callback(null, response, trailers());
        else (call as ServerWritableStream<Message, Message>).end(trailers());
      },
      (thrown: unknown) => {
        dispose();
        const error = RpcError.from(thrown, ctx.requestId);
        const metadata = trailers()?.clone() ?? new Metadata();
        for (const [key, value] of Object.entries(error.metadata)) metadata.set(key, value);
        flushHeaders();
        const status = { code: error.code as number, details: error.message, metadata };
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

function compose(interceptors: readonly ServerInterceptor[], ctx: HandlerContext, inner: () => Promise<void>): () => Promise<void> {
  return interceptors.reduceRight<() => Promise<void>>((next, interceptor) => {
    let called = false;
    return () => interceptor(ctx, () => {
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

const DEADLINE_SLACK_MS = 100;

/**
 * The per-call context. Everything a handler may not need is made on first use: an
 * AbortController (with its deadline timer), the flattened headers, a child logger, a
 * request id, the state map and the response metadata. On a 1 x 50 GetOnlineFeatures
 * these were a visible share of the server's CPU and garbage, and most calls use none.
 */
function createContext(call: AnyCall, info: CallInfo, logger: Logger) {
  const metadata = call.metadata;
  const rawDeadline = call.getDeadline();
  const deadlineMs = rawDeadline instanceof Date ? rawDeadline.getTime() : rawDeadline;
  const deadline = Number.isFinite(deadlineMs) ? new Date(deadlineMs) : undefined;
  let reason: RpcError | undefined;
  let controller: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  let requestId: string | undefined;
  let requestHeaders: Record<string, string> | undefined;
  let callLogger: Logger | undefined;
  let state: Map<string, unknown> | undefined;
  let headers: Metadata | undefined;
  let trailers: Metadata | undefined;

  const deadlineError = (): RpcError => new RpcError(Code.DEADLINE_EXCEEDED, 'deadline exceeded');
  const abort = (why: RpcError): void => {
    if (reason !== undefined) return;
    reason = why;
    controller?.abort(why);
  };
  const onCancelled = (): void => {
    // A client cancels its own call when its deadline passes, which reaches
    // us a little before our copy of the deadline; a cancel that close to it
    // is counted as the deadline passing.
    const nearDeadline = deadline !== undefined && Date.now() >= deadline.getTime() - DEADLINE_SLACK_MS;
    abort(nearDeadline ? deadlineError() : new RpcError(Code.CANCELLED, 'cancelled by the client'));
  };
  (call as EventEmitter).on('cancelled', onCancelled);
  const signal = (): AbortSignal => {
    if (controller === undefined) {
      controller = new AbortController();
      if (reason !== undefined) controller.abort(reason);
      // grpc-js ends the call itself at the deadline; this timer makes the
      // handler's signal fire at the same moment.
      else if (deadline) timer = setTimeout(() => abort(deadlineError()), Math.max(0, deadline.getTime() - Date.now()));
    }
    return controller.signal;
  };
  const idOf = (): string => {
    if (requestId === undefined) {
      const given = metadata.get('x-request-id')[0];
      requestId = typeof given === 'string' && given !== '' ? given : randomUUID();
    }
    return requestId;
  };

  const ctx: HandlerContext = {
    call: info,
    get requestId() {
      return idOf();
    },
    get headers() {
      return (requestHeaders ??= flattenMetadata(metadata));
    },
    deadline,
    get signal() {
      return signal();
    },
    get peer() {
      return call.getPeer();
    },
    get logger() {
      return (callLogger ??= logger.child({ rpc: info.path, requestId: idOf() }));
    },
    set logger(replacement: Logger) {
      callLogger = replacement;
    },
    get state() {
      return (state ??= new Map());
    },
    setHeader: (key, value) => (headers ??= new Metadata()).add(key, value),
    setTrailer: (key, value) => (trailers ??= new Metadata()).add(key, value),
    timeRemainingMs: () => (deadline ? Math.max(0, deadline.getTime() - Date.now()) : undefined),
  };
  /** Why the call stopped early (cancelled, forced down, deadline passed), or undefined. */
  const stopped = (): RpcError | undefined => reason ?? (deadline !== undefined && Date.now() >= deadline.getTime() ? deadlineError() : undefined);
  const dispose = (): void => {
    if (timer) clearTimeout(timer);
    (call as EventEmitter).off('cancelled', onCancelled);
  };
  return { ctx, abort, stopped, headers: () => headers, trailers: () => trailers, dispose };
}

export function flattenMetadata(metadata: Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    const strings = (values as Array<string | Buffer>).map((v) => (typeof v === 'string' ? v : v.toString('base64')));
    out[key] = strings.join(', ');
  }
  return out;
}
