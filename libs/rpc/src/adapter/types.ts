import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { Logger, LogLevel } from '../logger';
import type { PeerCertificate } from '../tls/peer-certificate';

export type MethodKind = DescMethod['methodKind'];

/** What an interceptor or handler knows about the rpc being served. */
export interface CallInfo {
  /** Fully qualified service name, e.g. "larder.serving.v1.ServingService". */
  readonly service: string;
  /** The rpc's name as in the proto, e.g. "GetOnlineFeatures". */
  readonly method: string;
  /** "/larder.serving.v1.ServingService/GetOnlineFeatures" */
  readonly path: string;
  readonly kind: MethodKind;
}

export interface HandlerContext {
  readonly call: CallInfo;
  /** The caller's x-request-id, or one made up for this call; appears in logs and INTERNAL messages. */
  readonly requestId: string;
  /** Request metadata, keys lower-case; repeated keys joined by ", "; -bin values base64. */
  readonly headers: Readonly<Record<string, string>>;
  /** The caller's deadline, if it set one. */
  readonly deadline: Date | undefined;
  /** Aborted when the caller cancels, the deadline passes or the server is forced down; reason is an RpcError. */
  readonly signal: AbortSignal;
  /** The caller's address, e.g. "ipv4:127.0.0.1:53312". */
  readonly peer: string;
  /**
   * The caller's client certificate when it verified against tls.clientCaFile (mTLS);
   * undefined on plaintext, without a certificate, or with one that did not verify.
   */
  readonly peerCertificate: PeerCertificate | undefined;
  /** A logger carrying the method and request id; interceptors may replace it with a child. */
  logger: Logger;
  /** Whether the call's logger writes `level`, without making its child logger (and request id) first. */
  logs(level: LogLevel): boolean;
  /** Per-call values set by interceptors (e.g. the authenticated principal). */
  readonly state: Map<string, unknown>;
  /** Adds a response header; headers go out with the first message or the status. */
  setHeader(key: string, value: string): void;
  /** Adds a trailer, sent with the status (OK or not). */
  setTrailer(key: string, value: string): void;
  /** Milliseconds left before the deadline, or undefined without one. */
  timeRemainingMs(): number | undefined;
}

/** Runs around every call: do work, then `await next()`, which resolves when the handler is done. */
export type ServerInterceptor = (ctx: HandlerContext, next: () => Promise<void>) => Promise<void>;

type Init<D extends DescMessage> = MessageInitShape<D>;
type Shape<D extends DescMessage> = MessageShape<D>;

export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (request: Shape<I>, ctx: HandlerContext) => Promise<Init<O>> | Init<O>;
export type ServerStreamingHandler<I extends DescMessage, O extends DescMessage> = (request: Shape<I>, ctx: HandlerContext) => AsyncIterable<Init<O>>;
export type ClientStreamingHandler<I extends DescMessage, O extends DescMessage> = (requests: AsyncIterable<Shape<I>>, ctx: HandlerContext) => Promise<Init<O>>;
export type BidiStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<Shape<I>>,
  ctx: HandlerContext,
) => AsyncIterable<Init<O>>;

/** The handler type for one method descriptor, chosen by its kind. */
export type HandlerFor<M> = DescMethod extends M
  ? AnyHandler
  : M extends { methodKind: 'unary'; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? UnaryHandler<I, O>
    : M extends { methodKind: 'server_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? ServerStreamingHandler<I, O>
      : M extends { methodKind: 'client_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? ClientStreamingHandler<I, O>
        : M extends { methodKind: 'bidi_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
          ? BidiStreamingHandler<I, O>
          : never;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyHandler = (input: any, ctx: HandlerContext) => any;

/** `{ methodLocalName: handler }`; methods left out answer UNIMPLEMENTED. */
export type ServiceImpl<S extends DescService> = {
  [K in keyof S['method']]?: HandlerFor<S['method'][K]>;
};

/**
 * Hand-written response encoders by method localName, for the few hot
 * methods where protobuf-es's reflective toBinary dominates the call. Each
 * must write exactly what toBinary would.
 */
export type ResponseEncoders<S extends DescService> = {
  [K in keyof S['method']]?: S['method'][K] extends { output: infer O extends DescMessage } ? (response: Shape<O>) => Uint8Array : never;
};

/**
 * Hand-written response decoders by method localName, the client-side twin of
 * ResponseEncoders. Each must return exactly what fromBinary would.
 */
export type ResponseDecoders<S extends DescService> = {
  [K in keyof S['method']]?: S['method'][K] extends { output: infer O extends DescMessage } ? (bytes: Uint8Array) => Shape<O> : never;
};

/**
 * Hand-written request decoders by method localName, the server-side twin of
 * ResponseDecoders, for a hot method whose request fromBinary dominates. Each returns
 * exactly what fromBinary would, or undefined for bytes it does not handle, which are
 * then decoded (and, if invalid, refused) by fromBinary as usual.
 */
export type RequestDecoders<S extends DescService> = {
  [K in keyof S['method']]?: S['method'][K] extends { input: infer I extends DescMessage } ? (bytes: Uint8Array) => Shape<I> | undefined : never;
};

/** A service and its implementation, as handed to startServer. */
/**
 * Something a service needs before it can answer, e.g. its registry copy. While it
 * gives a reason, grpc.health.v1 reports the service (and the server, '') NOT_SERVING
 * and /readyz answers 503 with the reason.
 */
export interface ReadinessCheck {
  /** Why the service cannot serve now, or undefined when it can. */
  notReadyReason(): string | undefined;
  /** Calls `listener` whenever the reason may have changed; returns the unsubscribe function. */
  onReadinessChange(listener: () => void): () => void;
}

export interface ServiceRegistration<S extends DescService = DescService> {
  service: S;
  impl: ServiceImpl<S>;
  encoders?: ResponseEncoders<S>;
  decoders?: RequestDecoders<S>;
  readiness?: ReadinessCheck;
}

/** Pairs a service with its implementation, checking the implementation's types. */
export function implement<S extends DescService>(
  service: S,
  impl: ServiceImpl<S>,
  options: { encoders?: ResponseEncoders<S>; decoders?: RequestDecoders<S>; readiness?: ReadinessCheck } = {},
): ServiceRegistration {
  return {
    service,
    impl,
    ...(options.encoders && { encoders: options.encoders }),
    ...(options.decoders && { decoders: options.decoders }),
    ...(options.readiness && { readiness: options.readiness }),
  } as unknown as ServiceRegistration;
}
