import { authConfigSchema } from '@larder/auth';
import { duration, int, LOG_LEVELS, oneOf, serverConfigSchema, string, stringList } from '@larder/rpc';
import type { ConfigOf } from '@larder/rpc';

/**
 * The UI server's settings. Upstream addresses come from here only: nothing a
 * browser sends ever names a host to connect to.
 */
const shared = serverConfigSchema();

export const uiConfigSchema = {
  bind: {
    // Loopback unless an operator says otherwise, like every other Larder listener.
    host: string({
      default: '127.0.0.1',
      nonEmpty: true,
      env: 'LARDER_BIND_HOST',
      doc: 'Address the UI binds to unless ui.host is set; 0.0.0.0 (or ::) to serve other machines.',
    }),
  },
  ui: {
    host: string({ default: '', env: 'LARDER_UI_HOST', doc: 'Address the UI server binds to; empty = bind.host.' }),
    port: int({ default: 6568, min: 0, max: 65535, env: 'LARDER_UI_PORT', doc: 'HTTP port of the UI; 0 picks a free one.' }),
    distDir: string({ default: '', env: 'LARDER_UI_DIST', doc: 'The built front end (npm run build -w @larder/ui); empty = apps/ui/dist.' }),
    upstreamTimeout: duration({ default: 5_000, min: 1, env: 'LARDER_UI_UPSTREAM_TIMEOUT', doc: 'Deadline of each gRPC call the UI server makes for a page.' }),
    maxConcurrent: int({
      default: 64,
      min: 1,
      env: 'LARDER_UI_MAX_CONCURRENT',
      doc: 'API requests answered at once; more wait in line up to the same number again, then get 503.',
    }),
    publicUrl: string({
      default: '',
      env: 'LARDER_UI_PUBLIC_URL',
      doc: "The UI's address as browsers reach it (the OIDC redirect goes to <publicUrl>/auth/callback); empty = the listener's address.",
    }),
    sessionKeyFile: string({
      default: '',
      env: 'LARDER_UI_SESSION_KEY_FILE',
      doc: 'At least 32 random bytes that seal session cookies (AES-GCM); required with auth.modes oidc. Changing it signs everyone out.',
    }),
    oidc: {
      clientId: string({
        default: '',
        env: 'LARDER_UI_OIDC_CLIENT_ID',
        doc: "The UI's client id at the OIDC issuer (auth.oidc.issuer); required with auth.modes oidc.",
      }),
      clientSecretFile: string({
        default: '',
        env: 'LARDER_UI_OIDC_CLIENT_SECRET_FILE',
        doc: "A confidential client's secret (HTTP Basic at the token endpoint); empty for a public client (PKCE alone).",
      }),
      scopes: stringList({ default: ['openid', 'profile', 'email'], env: 'LARDER_UI_OIDC_SCOPES', doc: 'Scopes asked for at sign-in; must include openid.' }),
    },
  },
  registry: {
    address: string({ default: '127.0.0.1:6570', nonEmpty: true, env: 'LARDER_REGISTRY_ADDRESS', doc: 'The registry service, host:port.' }),
  },
  materialization: {
    address: string({ default: '127.0.0.1:6572', env: 'LARDER_MATERIALIZATION_ADDRESS', doc: 'The materialization service, host:port; empty hides jobs.' }),
  },
  ingestion: {
    address: string({ default: '127.0.0.1:6573', env: 'LARDER_INGESTION_ADDRESS', doc: 'The ingestion service, host:port; empty hides consumers.' }),
  },
  offlineRetrieval: {
    address: string({
      default: '127.0.0.1:6571',
      env: 'LARDER_OFFLINE_RETRIEVAL_ADDRESS',
      doc: 'The offline-retrieval service (its StatisticsService), host:port; empty hides data quality.',
    }),
  },
  /** Who may use the UI: none (everyone sees everything), or oidc (sign-in; each user sees what they may describe). */
  ...authConfigSchema(),
  /** HTTPS for the UI, with the same keys (and certificate rotation) as every service's listeners. */
  tls: shared.tls,
  /** How the UI dials the services: TLS and its own bearer token file. */
  client: shared.client,
  log: {
    level: oneOf(LOG_LEVELS, { default: 'info', env: 'LARDER_LOG_LEVEL' }),
  },
} as const;

export type UiConfig = ConfigOf<typeof uiConfigSchema>;
