import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger, MetricsGuard, ServerInterceptor } from '@larder/rpc';
import { createAuditSink } from './audit';
import type { AuditSink } from './audit';
import { createAuthenticator } from './authenticator';
import type { Authenticator } from './authenticator';
import { checkAuthConfig } from './config';
import type { AuthConfig } from './config';
import { authenticateHttp, authInterceptor, sendHttpAuthFailure } from './guards';
import type { Principal } from './principal';

/** What one service needs to know who calls it, on every front door. */
export interface ServiceAuth {
  readonly authenticator: Authenticator;
  readonly audit: AuditSink;
  /** For ServiceSetup.interceptors: puts the caller in ctx.state, or refuses the call. */
  readonly interceptor: ServerInterceptor;
  /** For ServiceSetup.metricsGuard: auth.metricsReaders (and operators) read /metrics; undefined (open) in mode none. */
  readonly metricsGuard: MetricsGuard | undefined;
  /**
   * The caller of an HTTP request (gateway, push). Undefined once the 401 (or 503) has been
   * answered; the handler then stops.
   */
  httpPrincipal(req: IncomingMessage, res: ServerResponse): Promise<Principal | undefined>;
  close(): Promise<void>;
}

export interface ServiceAuthOptions {
  /** The service name written on audit lines. */
  readonly service: string;
  readonly auth: AuthConfig;
  /** Every address the service binds (gRPC, metrics, HTTP endpoints), for the loopback rule of mode none. */
  readonly hosts: readonly string[];
  /** tls.clientCaFile: mode mtls needs one. */
  readonly clientCaFile?: string;
  readonly logger: Logger;
}

/**
 * Authentication for one service, set up the same way everywhere: the configuration checked
 * (mode none on a non-loopback listener refused unless allowed), the issuer's keys fetched
 * ahead of the first call, the audit sink, the gRPC interceptor, the /metrics guard and the
 * HTTP guard.
 */
export function startServiceAuth(options: ServiceAuthOptions): ServiceAuth {
  checkAuthConfig(
    options.auth,
    { hosts: options.hosts, ...(options.clientCaFile !== undefined && options.clientCaFile !== '' && { clientCaFile: options.clientCaFile }) },
    options.logger,
  );
  const authenticator = createAuthenticator(options.auth, options.logger);
  void authenticator.prefetch();
  const audit = createAuditSink({ service: options.service, logger: options.logger, file: options.auth.audit.file });
  const metricsGuard: MetricsGuard | undefined = authenticator.enabled
    ? async (req) => {
        const result = await authenticateHttp(authenticator, req, { audit });
        if (!result.ok) return { status: result.status, headers: result.headers, body: JSON.stringify(result.body) };
        if (authenticator.isMetricsReader(result.principal)) return undefined;
        const message = `principal ${result.principal.id} may not read /metrics (auth.metricsReaders)`;
        audit.write({ identity: result.principal.id, action: 'read_metrics', objects: ['GET /metrics'], outcome: 'denied', reason: message });
        return { status: 403, body: JSON.stringify({ error: { code: 'PERMISSION_DENIED', message } }) };
      }
    : undefined;
  return {
    authenticator,
    audit,
    interceptor: authInterceptor(authenticator, { audit }),
    metricsGuard,
    async httpPrincipal(req, res) {
      const result = await authenticateHttp(authenticator, req, { audit });
      if (result.ok) return result.principal;
      sendHttpAuthFailure(res, result);
      return undefined;
    },
    close: () => audit.close(),
  };
}
