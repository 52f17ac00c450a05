import type { IncomingMessage, ServerResponse } from 'node:http';
import { Code, RpcError } from '@larder/rpc';
import type { HandlerContext, ServerInterceptor } from '@larder/rpc';
import type { AuditSink } from './audit';
import type { Authenticator } from './authenticator';
import { ANONYMOUS_OPERATOR } from './principal';
import type { Principal } from './principal';

/** The key of the Principal in `ctx.state`. */
export const PRINCIPAL_STATE_KEY = 'principal';

/**
 * Authenticates every call of the application services (grpc.health.v1 and reflection are
 * served outside the interceptors, so kubelet probes and grpcurl's listing stay open) and puts
 * the Principal in `ctx.state`. A refused credential is written to `audit` and the call ends
 * with UNAUTHENTICATED and the reason (or UNAVAILABLE when the issuer's keys cannot be had).
 */
export function authInterceptor(authenticator: Authenticator, options: { audit?: AuditSink } = {}): ServerInterceptor {
  if (!authenticator.enabled) {
    return (ctx, next) => {
      ctx.state.set(PRINCIPAL_STATE_KEY, ANONYMOUS_OPERATOR);
      return next();
    };
  }
  return async (ctx, next) => {
    let principal: Principal;
    try {
      principal = await authenticator.fromGrpc(ctx);
    } catch (error) {
      const rpc = RpcError.from(error);
      options.audit?.write({
        identity: 'unauthenticated',
        action: 'authenticate',
        objects: [ctx.call.path],
        outcome: 'denied',
        reason: rpc.message,
        requestId: ctx.requestId,
      });
      throw rpc;
    }
    ctx.state.set(PRINCIPAL_STATE_KEY, principal);
    await next();
  };
}

/** The caller authInterceptor established. Throws (INTERNAL, logged) when the interceptor is missing: never a silent allow. */
export function principalOf(ctx: Pick<HandlerContext, 'state'>): Principal {
  const principal = ctx.state.get(PRINCIPAL_STATE_KEY);
  if (principal === undefined) throw new Error('no principal on the call: authInterceptor is not installed on this server');
  return principal as Principal;
}

/** A refused HTTP request: what to answer. */
export interface HttpAuthFailure {
  readonly ok: false;
  /** 401 for a missing or bad credential, 503 when the issuer's keys cannot be had. */
  readonly status: 401 | 503;
  readonly headers: Readonly<Record<string, string>>;
  readonly code: 'UNAUTHENTICATED' | 'UNAVAILABLE';
  readonly message: string;
  /** `{"error": {"code", "message"}}`, the shape of ingestion's /push errors. */
  readonly body: { readonly error: { readonly code: string; readonly message: string } };
}

export type HttpAuthResult = { readonly ok: true; readonly principal: Principal } | HttpAuthFailure;

/**
 * The HTTP guard: the request's principal (bearer token in `Authorization`, or the verified
 * client certificate of the TLS socket), or the 401 answer with `WWW-Authenticate: Bearer`.
 */
export async function authenticateHttp(
  authenticator: Authenticator,
  req: IncomingMessage,
  options: { audit?: AuditSink; requestId?: string } = {},
): Promise<HttpAuthResult> {
  try {
    return { ok: true, principal: await authenticator.fromHttp(req) };
  } catch (error) {
    const rpc = RpcError.from(error);
    const unavailable = rpc.code === Code.UNAVAILABLE;
    const message = rpc.code === Code.INTERNAL ? 'credentials cannot be verified' : rpc.message;
    const path = (req.url ?? '/').split('?')[0] as string;
    options.audit?.write({
      identity: 'unauthenticated',
      action: 'authenticate',
      objects: [`${req.method ?? 'GET'} ${path}`],
      outcome: 'denied',
      reason: message,
      ...(options.requestId !== undefined && { requestId: options.requestId }),
    });
    const code = unavailable ? 'UNAVAILABLE' : 'UNAUTHENTICATED';
    const headers: Record<string, string> = unavailable ? { 'retry-after': '1' } : { 'www-authenticate': wwwAuthenticate(message) };
    return { ok: false, status: unavailable ? 503 : 401, headers, code, message, body: { error: { code, message } } };
  }
}

/** Writes a refused request's answer with the `{"error": {...}}` body. */
export function sendHttpAuthFailure(res: ServerResponse, failure: HttpAuthFailure): void {
  const text = JSON.stringify(failure.body);
  res.writeHead(failure.status, { ...failure.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** RFC 6750 challenge; a credential that was sent and refused is `invalid_token`. */
function wwwAuthenticate(message: string): string {
  if (message.startsWith('missing')) return 'Bearer realm="larder"';
  return `Bearer realm="larder", error="invalid_token", error_description=${JSON.stringify(message.replace(/[^\x20-\x7e]/g, '?').replace(/"/g, "'"))}`;
}
