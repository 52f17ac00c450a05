import type { IncomingMessage } from 'node:http';
import { ingestionV1, materializationV1, registryV1, statisticsV1 } from '@larder/proto';
import { clientSecurityFromConfig, createClient } from '@larder/rpc';
import type { ClientOptions, ClientSecurity, Logger, RpcCallOptions, RpcClient } from '@larder/rpc';
import { RegistryClient } from '@larder/registry-client';
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
   * UI's identity to visitors would let anyone who reaches the UI do what its service
   * account may.
   */
  user: Clients;
  /**
   * The UI server's copy of the registry, following the change feed with the UI
   * server's own identity (client.tokenFile); pages narrow it to what each user may
   * describe.
   */
  registry: RegistryClient;
  close(): void;
}

function connect(config: UiConfig, options: ClientOptions & ClientSecurity): Clients {
  return {
    registry: createClient(registryV1.RegistryService, config.registry.address, options),
    materialization:
      config.materialization.address === '' ? undefined : createClient(materializationV1.MaterializationService, config.materialization.address, options),
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

/** Connects with the `client` settings (TLS, the service's token file) shared by every Larder service, and starts the copy. */
export function connectUpstreams(config: UiConfig, logger: Logger): Upstreams {
  const security = clientSecurityFromConfig(config.client, logger);
  const base: ClientOptions & ClientSecurity = { defaultTimeoutMs: config.ui.upstreamTimeout, ...(security.tls === undefined ? {} : { tls: security.tls }) };
  const user = connect(config, base);
  const registry = new RegistryClient({
    address: config.registry.address,
    logger,
    clientOptions: {
      ...(security.tls === undefined ? {} : { tls: security.tls }),
      ...(security.token === undefined ? {} : { token: security.token }),
    },
  }).start();
  return {
    user,
    registry,
    close() {
      registry.close();
      closeAll(user);
    },
  };
}

const BEARER = /^Bearer [A-Za-z0-9\-._~+/]+=*$/;
/** A JWT of a few kB is usual; anything far larger is refused rather than forwarded. */
const MAX_AUTHORIZATION_CHARS = 16 * 1024;

/** The request's own `Authorization: Bearer …` when well formed (a proxy in front of the UI, an API client). */
export function bearerOf(request: IncomingMessage): string | undefined {
  const authorization = request.headers.authorization;
  return authorization !== undefined && authorization.length <= MAX_AUTHORIZATION_CHARS && BEARER.test(authorization) ? authorization : undefined;
}

/**
 * The call options of every gRPC call made for one browser request: the seam where the
 * user's identity reaches the services. The user's bearer token (from their login
 * session, or sent by a proxy in front of the UI) is forwarded as the call's
 * `authorization` metadata, so each service also decides what this user may do, as
 * for any other client. Without one, calls go out anonymously. Nothing else of the
 * request becomes metadata.
 */
export function callOptions(signal: AbortSignal, authorization: string | undefined): RpcCallOptions {
  return authorization === undefined ? { signal } : { signal, headers: { authorization } };
}
