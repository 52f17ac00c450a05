import { Code, codeName, isCode, isCodeName } from './code';
import type { ErrorMappings } from './error-mappings';

export interface RpcErrorOptions {
  /** Sent to the client as trailing metadata (ASCII values). */
  metadata?: Record<string, string>;
  /** Logged on the server, never sent. */
  cause?: unknown;
}

/**
 * The one error type of Larder's RPC layer: a gRPC code, a message a person
 * can act on, metadata sent as trailers, and a cause that stays on the server.
 */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  readonly code: Code;
  readonly metadata: Readonly<Record<string, string>>;
  override readonly cause: unknown;

  constructor(code: Code, message: string, options: RpcErrorOptions = {}) {
    super(message);
    this.code = code;
    this.metadata = { ...options.metadata };
    this.cause = options.cause;
  }

  /**
   * Normalises anything thrown. An RpcError stays as it is; a domain error
   * `mappings` knows (the server's, see ErrorMappings) or an error with a
   * `code` naming a gRPC status ('NOT_FOUND') keeps its message; anything
   * else becomes INTERNAL with a generic message that points at the server
   * logs, the original kept as `cause`.
   */
  static from(error: unknown, requestId?: string, mappings?: ErrorMappings): RpcError {
    if (error instanceof RpcError) return error;
    if (error instanceof Error) {
      const mapped = mappings?.statusOf(error);
      if (mapped) return mapped;
      const code = (error as { code?: unknown }).code;
      if (isCodeName(code)) return new RpcError(Code[code], error.message, { cause: error });
    }
    return RpcError.internal(error, requestId);
  }

  static internal(cause: unknown, requestId?: string): RpcError {
    const where = requestId === undefined ? 'see server logs' : `see server logs, request id ${requestId}`;
    return new RpcError(Code.INTERNAL, `internal error (${where})`, { cause });
  }

  /** Builds an RpcError from what grpc-js hands a client (a ServiceError or status object). */
  static fromStatus(status: { code?: unknown; details?: unknown; message?: unknown; metadata?: unknown }): RpcError {
    const code = isCode(status.code) ? status.code : Code.UNKNOWN;
    const details = typeof status.details === 'string' ? status.details : typeof status.message === 'string' ? status.message : '';
    const metadata: Record<string, string> = {};
    const md = status.metadata as { getMap?: () => Record<string, unknown> } | undefined;
    if (md && typeof md.getMap === 'function') {
      for (const [key, value] of Object.entries(md.getMap())) {
        if (typeof value === 'string') metadata[key] = value;
      }
    }
    return new RpcError(code, details, { metadata });
  }

  override toString(): string {
    return `RpcError [${codeName(this.code)}] ${this.message}`;
  }
}

/**
 * The longest status message a server sends, in UTF-8 bytes. grpc-js puts
 * the message in one trailer, and a trailer past the peer's header-list
 * limit (~64 kB after percent-encoding) is dropped with the status, leaving
 * the client to wait for its deadline; messages that echo input (a 100k-char
 * feature name) are cut here, in the one place statuses are sent.
 */
export const MAX_STATUS_MESSAGE_BYTES = 4096;

/** `message` cut to at most `maxBytes` UTF-8 bytes, ending with a marker saying how long it was. */
export function capStatusMessage(message: string, maxBytes = MAX_STATUS_MESSAGE_BYTES): string {
  const total = Buffer.byteLength(message, 'utf8');
  if (total <= maxBytes) return message;
  const marker = ` ... [message truncated: ${total} bytes in all]`;
  const keep = Math.max(0, maxBytes - Buffer.byteLength(marker, 'utf8'));
  let bytes = 0;
  let end = 0;
  // By code point, so a surrogate pair is never split.
  for (const char of message) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > keep) break;
    bytes += size;
    end += char.length;
  }
  return message.slice(0, end) + marker;
}
