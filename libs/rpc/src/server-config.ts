import { bool, duration, int, oneOf, string } from '@larder/config';
import type { ConfigOf } from '@larder/config';
import { LOG_LEVELS } from './logger';

/**
 * The keys every Larder service shares. A service spreads this into its own
 * schema: `{ ...serverConfigSchema({ grpcPort: 6566 }), store: { ... } }`.
 */
export function serverConfigSchema(defaults: { grpcPort?: number; metricsPort?: number } = {}) {
  return {
    bind: {
      // Loopback unless an operator says otherwise: any pod of a shared cluster could reach a wildcard bind.
      host: string({
        default: '127.0.0.1',
        nonEmpty: true,
        env: 'LARDER_BIND_HOST',
        doc: 'Address every listener of the service binds to unless its own host is set; 0.0.0.0 (or ::) to serve other machines, as the Kubernetes manifests do.',
      }),
    },
    grpc: {
      host: string({ default: '', env: 'LARDER_GRPC_HOST', doc: 'Address the gRPC server binds to; empty = bind.host.' }),
      port: int({ default: defaults.grpcPort ?? 50051, min: 0, max: 65535, env: 'LARDER_GRPC_PORT', doc: 'gRPC port; 0 picks a free one.' }),
      reflection: bool({ default: true, env: 'LARDER_GRPC_REFLECTION', doc: 'Serve grpc.reflection v1 and v1alpha.' }),
      maxMessageBytes: int({ default: 16 * 1024 * 1024, min: 1024, env: 'LARDER_GRPC_MAX_MESSAGE_BYTES', doc: 'Largest message received or sent.' }),
    },
    metrics: {
      enabled: bool({ default: true, env: 'LARDER_METRICS_ENABLED', doc: 'Serve /metrics, /healthz and /readyz over HTTP.' }),
      host: string({ default: '', env: 'LARDER_METRICS_HOST', doc: 'Address the metrics endpoint binds to; empty = bind.host.' }),
      port: int({ default: defaults.metricsPort ?? 9090, min: 0, max: 65535, env: 'LARDER_METRICS_PORT', doc: 'Metrics port; 0 picks a free one.' }),
    },
    tls: {
      certFile: string({
        default: '',
        env: 'LARDER_TLS_CERT_FILE',
        doc: 'PEM certificate chain of the service; with tls.keyFile, TLS on the gRPC port and every HTTP listener. Read again when it changes.',
      }),
      keyFile: string({ default: '', env: 'LARDER_TLS_KEY_FILE', doc: "PEM private key of tls.certFile's certificate." }),
      clientCaFile: string({
        default: '',
        env: 'LARDER_TLS_CLIENT_CA_FILE',
        doc: 'PEM CA bundle client certificates are verified against (mTLS); empty = clients are not asked for one.',
      }),
      requireClientCert: bool({
        default: false,
        env: 'LARDER_TLS_REQUIRE_CLIENT_CERT',
        doc: 'Refuse connections without a client certificate that verifies against tls.clientCaFile; off = verified when sent.',
      }),
    },
    client: {
      tls: {
        caFile: string({
          default: '',
          env: 'LARDER_CLIENT_TLS_CA_FILE',
          doc: 'PEM CA bundle this service trusts when it dials another (the registry); set = TLS.',
        }),
        certFile: string({ default: '', env: 'LARDER_CLIENT_TLS_CERT_FILE', doc: 'PEM client certificate sent when dialling another service (mTLS).' }),
        keyFile: string({ default: '', env: 'LARDER_CLIENT_TLS_KEY_FILE', doc: "PEM private key of client.tls.certFile's certificate." }),
        serverName: string({
          default: '',
          env: 'LARDER_CLIENT_TLS_SERVER_NAME',
          doc: "The name the other service's certificate must carry when it is not the host dialled; set = TLS.",
        }),
      },
      tokenFile: string({
        default: '',
        env: 'LARDER_CLIENT_TOKEN_FILE',
        doc: 'Bearer token sent to other services, read again when the file changes (a Kubernetes projected service-account token).',
      }),
    },
    log: {
      level: oneOf(LOG_LEVELS, { default: 'info', env: 'LARDER_LOG_LEVEL' }),
    },
    shutdown: {
      gracePeriod: duration({
        default: 25_000,
        env: 'LARDER_SHUTDOWN_GRACE_PERIOD',
        doc: 'How long in-flight calls may take after SIGTERM before they are cancelled.',
      }),
    },
  } as const;
}

export type ServerConfigSchema = ReturnType<typeof serverConfigSchema>;
export type ServerConfig = ConfigOf<ServerConfigSchema>;

/** The address one listener binds to: its own setting, or the service's shared bind.host. */
export function bindHost(own: string, config: Pick<ServerConfig, 'bind'>): string {
  return own === '' ? config.bind.host : own;
}
