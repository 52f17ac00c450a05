import type { IncomingMessage } from 'node:http';
import { ingestionV1, materializationV1, registryV1, statisticsV1 } from '@larder/proto';
import { clientSecurityFromConfig, createClient } from '@larder/rpc';
import type { ClientOptions, ClientSecurity, Logger, RpcCallOptions, RpcClient } from '@larder/rpc';
import type { UiConfig } from './config';

/** The gRPC services a page reads; addresses come from configuration only. */
export interface Clients {
  registry: RpcClient<typeof registryV1.RegistryService>;
  materialization: RpcClient<typeof materializationV1.MaterializationService> | undefined;
  ingestion: RpcClient<typeof ingestionV1.IngestionService> | undefined;
  /** Stored statistics, for data quality (offline retrieval). */
  statistics: RpcClient<typeof statisticsV1.StatisticsService> | undefined;
}

export interface Upstreams {
  /**
   * Every call made for a browser request: TLS, but never the UI server's own token, so
   * a user reads with their own bearer token or, without one, anonymously. Lending the
   * UI's identity to tokenless visitors would let anyone who reaches the UI describe
   * what its service account may.
   */
  user: Clients;
  /** The registry's change feed: a stream that stays open, so no default deadline. */
  feed: RpcClient<typeof registryV1.RegistryService>;
  close(): void;
}

function connect(config: UiConfig, options: ClientOptions & ClientSecurity): Clients {
  return {
    registry: createClient(registryV1.RegistryService, config.registry.address, options),
    materialization: config.materialization.address === '' ? undefined : createClient(materializationV1.MaterializationService, config.materialization.address, options),
    ingestion: config.ingestion.address === '' ? undefined : createClient(ingestionV1.IngestionService, config.ingestion.address, options),
    statistics: config.offlineRetrieval.address === '' ? undefined : createClient(statisticsV1.StatisticsService, config.offlineRetrieval.address, options),
  };
}

function closeAll(clients: Clients): void {
  clients.registry.close();
  clients.materialization?.close();
  clients.ingestion?.close();
  clients.statistics?.close();
}

/** Connects with the `client` settings (TLS, the service's token file) shared by every Larder service. */
export function connectUpstreams(config: UiConfig, logger: Logger): Upstreams {
  const security = clientSecurityFromConfig(config.client, logger);
  const base: ClientOptions & ClientSecurity = { defaultTimeoutMs: config.ui.upstreamTimeout, ...(security.tls === undefined ? {} : { tls: security.tls }) };
  const user = connect(config, base);
  const feed = createClient(registryV1.RegistryService, config.registry.address, {
    ...(security.tls === undefined ? {} : { tls: security.tls }),
    ...(security.token === undefined ? {} : { token: security.token }),
  });
  return {
    user,
    feed,
    close() {
      feed.close();
      closeAll(user);
    },
  };
}

const BEARER = /^Bearer [A-Za-z0-9\-._~+/]+=*$/;
/** A JWT of a few kB is usual; anything far larger is refused rather than forwarded. */
const MAX_AUTHORIZATION_CHARS = 16 * 1024;

/**
 * The clients and call options of every gRPC call made for one browser request: the
 * seam where the user's identity reaches the services. A bearer token the request
 * carries (put there by an OIDC login or by a proxy in front of the UI) is forwarded
 * as the call's `authorization` metadata, so each service decides what this user may
 * describe, as for any other client. Without one, calls go out anonymously: with auth
 * off the services answer them as before; with auth on they answer UNAUTHENTICATED.
 * Only a well-formed bearer value is passed on: nothing else of the request becomes
 * metadata.
 */
export function forRequest(upstreams: Upstreams, request: IncomingMessage, signal: AbortSignal): { clients: Clients; options: RpcCallOptions } {
  const authorization = request.headers.authorization;
  if (authorization !== undefined && authorization.length <= MAX_AUTHORIZATION_CHARS && BEARER.test(authorization)) {
    return { clients: upstreams.user, options: { signal, headers: { authorization } } };
  }
  return { clients: upstreams.user, options: { signal } };
}
