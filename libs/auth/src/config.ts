import { bool, ConfigError, ConfigKey, duration, string, stringList } from '@larder/rpc';
import type { ConfigIssue, ConfigOf, Logger, Parsed } from '@larder/rpc';
import { identityProblem } from './principal';

export const AUTH_MODES = ['none', 'oidc', 'mtls'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/**
 * The JWS algorithms a token may be signed with. Only asymmetric ones: an HMAC secret
 * shared with every verifier could mint tokens, and "none" signs nothing.
 */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });

/** A list given as a YAML sequence or a comma-separated environment value, each item checked. */
function checkedList<T extends string>(
  expected: string,
  check: (item: string) => boolean,
  options: { env: string; default: readonly T[]; doc: string },
): ConfigKey<readonly T[]> {
  return new ConfigKey<readonly T[]>(
    'list',
    expected,
    (raw, fromEnv) => {
      let items: string[] | undefined;
      if (fromEnv && typeof raw === 'string')
        items = raw
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
      else if (Array.isArray(raw) && raw.every((item) => typeof item === 'string')) items = raw.map((s) => (s as string).trim());
      if (items === undefined || !items.every(check)) return { ok: false, expected };
      return ok([...new Set(items)] as T[]);
    },
    options,
  );
}

const modesKey = () =>
  checkedList<AuthMode>('a list of none, oidc, mtls (oidc and mtls may be combined)', (m) => (AUTH_MODES as readonly string[]).includes(m), {
    env: 'LARDER_AUTH_MODES',
    default: ['none'],
    doc: 'How callers prove who they are: none (everyone is an anonymous operator; loopback listeners only), oidc (bearer JWTs), mtls (client certificates); "oidc,mtls" accepts either.',
  });

const algorithmsKey = () =>
  checkedList<string>(
    `a list of asymmetric JWS algorithms (${ASYMMETRIC_ALGORITHMS.join(', ')}); none and HS256/HS384/HS512 are refused`,
    (a) => (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a),
    { env: 'LARDER_AUTH_OIDC_ALGORITHMS', default: ['RS256', 'ES256'], doc: 'Algorithms a token may be signed with.' },
  );

const identitiesKey = (env: string, doc: string) =>
  checkedList<string>(
    'a list of identities: user:<sub>, group:<g>, sa:<ns>/<name>, namespace:<ns>, cert:<CN or SAN>',
    (i) => identityProblem(i) === undefined,
    { env, default: [], doc },
  );

/** The auth keys of every service; spread into the service's schema beside serverConfigSchema(). */
export function authConfigSchema() {
  return {
    auth: {
      modes: modesKey(),
      allowInsecure: bool({
        default: false,
        env: 'LARDER_AUTH_ALLOW_INSECURE',
        doc: 'Let mode none run on a non-loopback listener (logs a warning): anyone who reaches the port is an operator.',
      }),
      oidc: {
        issuer: string({
          default: '',
          env: 'LARDER_AUTH_OIDC_ISSUER',
          doc: 'The token issuer (`iss`), e.g. https://kubernetes.default.svc.cluster.local; required for mode oidc.',
        }),
        audiences: stringList({ default: [], env: 'LARDER_AUTH_OIDC_AUDIENCES', doc: 'Accepted token audiences (`aud`); at least one for mode oidc.' }),
        jwksUrl: string({
          default: '',
          env: 'LARDER_AUTH_OIDC_JWKS_URL',
          doc: "The issuer's key set; empty = jwks_uri of <issuer>/.well-known/openid-configuration.",
        }),
        keysFile: string({ default: '', env: 'LARDER_AUTH_OIDC_KEYS_FILE', doc: 'A JWKS JSON file of static verification keys, instead of fetching them.' }),
        caFile: string({
          default: '',
          env: 'LARDER_AUTH_OIDC_CA_FILE',
          doc: 'CA bundle for fetching the discovery document and key set (Kubernetes: the service-account ca.crt).',
        }),
        fetchTokenFile: string({
          default: '',
          env: 'LARDER_AUTH_OIDC_FETCH_TOKEN_FILE',
          doc: "Bearer token sent when fetching the issuer's keys (Kubernetes: the pod's service-account token, as the API server wants one); re-read on every fetch.",
        }),
        algorithms: algorithmsKey(),
        clockSkew: duration({ default: 30_000, min: 0, max: 600_000, env: 'LARDER_AUTH_OIDC_CLOCK_SKEW', doc: 'Leeway on exp and nbf.' }),
        groupsClaim: string({
          default: 'groups',
          env: 'LARDER_AUTH_OIDC_GROUPS_CLAIM',
          doc: 'Claim holding the roles/groups matched by permission policies; a dot path (realm_access.roles) is allowed.',
        }),
        jwksCooldown: duration({
          default: 30_000,
          min: 0,
          env: 'LARDER_AUTH_OIDC_JWKS_COOLDOWN',
          doc: 'Least time between two fetches of the key set prompted by tokens with an unknown key id.',
        }),
        jwksMaxAge: duration({
          default: 600_000,
          min: 1000,
          env: 'LARDER_AUTH_OIDC_JWKS_MAX_AGE',
          doc: 'The key set is fetched again this long after the last fetch, so retired keys stop being accepted.',
        }),
        fetchTimeout: duration({
          default: 5000,
          min: 100,
          max: 60_000,
          env: 'LARDER_AUTH_OIDC_FETCH_TIMEOUT',
          doc: 'Bound on one fetch of the discovery document or key set.',
        }),
      },
      operators: identitiesKey('LARDER_AUTH_OPERATORS', 'Identities allowed every action in every project: how the first permissions are applied.'),
      metricsReaders: identitiesKey('LARDER_AUTH_METRICS_READERS', 'Identities that may GET /metrics while auth is on (operators may too).'),
      audit: {
        file: string({ default: '', env: 'LARDER_AUDIT_FILE', doc: 'Audit lines (JSON, one per write or denial) are also appended to this file.' }),
      },
    },
  } as const;
}

export type AuthConfigSchema = ReturnType<typeof authConfigSchema>;
/** The `auth` section of a loaded configuration. */
export type AuthConfig = ConfigOf<AuthConfigSchema>['auth'];

/**
 * The problems that need more than one key to see: mode none combined with others, oidc
 * without an issuer or audiences, mtls without a client CA. One ConfigIssue per problem.
 */
export function authConfigIssues(config: AuthConfig, context: { clientCaFile?: string } = {}): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const source = 'configuration';
  const modes = config.modes;
  if (modes.length === 0) issues.push({ key: 'auth.modes', problem: 'at least one mode is required (none, oidc, mtls)', source });
  if (modes.includes('none') && modes.length > 1) {
    issues.push({ key: 'auth.modes', problem: `none cannot be combined with other modes (got ${modes.join(',')})`, source });
  }
  if (modes.includes('oidc')) {
    if (config.oidc.issuer === '')
      issues.push({
        key: 'auth.oidc.issuer',
        problem: 'mode oidc needs the token issuer',
        source: 'set it in the configuration file or with LARDER_AUTH_OIDC_ISSUER',
      });
    else if (config.oidc.keysFile === '' && config.oidc.jwksUrl === '' && !isHttpUrl(config.oidc.issuer)) {
      issues.push({
        key: 'auth.oidc.issuer',
        problem: `expected an http(s) URL to discover the keys from (or set auth.oidc.jwksUrl or auth.oidc.keysFile) but got ${JSON.stringify(config.oidc.issuer)}`,
        source,
      });
    }
    if (config.oidc.audiences.length === 0)
      issues.push({
        key: 'auth.oidc.audiences',
        problem: 'mode oidc needs at least one accepted audience',
        source: 'set it in the configuration file or with LARDER_AUTH_OIDC_AUDIENCES',
      });
    if (config.oidc.jwksUrl !== '' && !isHttpUrl(config.oidc.jwksUrl)) {
      issues.push({ key: 'auth.oidc.jwksUrl', problem: `expected an http(s) URL but got ${JSON.stringify(config.oidc.jwksUrl)}`, source });
    }
    if (config.oidc.jwksUrl !== '' && config.oidc.keysFile !== '') {
      issues.push({ key: 'auth.oidc.keysFile', problem: 'set either auth.oidc.keysFile or auth.oidc.jwksUrl, not both', source });
    }
    if (config.oidc.algorithms.length === 0) issues.push({ key: 'auth.oidc.algorithms', problem: 'at least one algorithm is required', source });
  }
  if (modes.includes('mtls') && context.clientCaFile !== undefined && context.clientCaFile === '') {
    issues.push({ key: 'auth.modes', problem: 'mode mtls needs tls.clientCaFile (LARDER_TLS_CLIENT_CA_FILE) so client certificates are verified', source });
  }
  return issues;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/** Whether a bind address only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

export interface AuthStartupContext {
  /** Every address the service binds (gRPC, metrics, HTTP endpoints). */
  readonly hosts: readonly string[];
  /** tls.clientCaFile, when the service has TLS keys: mode mtls needs it. */
  readonly clientCaFile?: string;
}

/**
 * The check every service runs at start with its listeners' bind hosts: throws a ConfigError
 * (exit 2) for inconsistent keys, or for mode none on a non-loopback listener unless
 * auth.allowInsecure is set, in which case it logs a warning.
 */
export function checkAuthConfig(config: AuthConfig, context: AuthStartupContext, logger: Logger): void {
  const issues = authConfigIssues(config, context.clientCaFile === undefined ? {} : { clientCaFile: context.clientCaFile });
  if (config.modes.includes('none')) {
    const exposed = [...new Set(context.hosts.filter((h) => !isLoopbackHost(h)))];
    if (exposed.length > 0) {
      if (config.allowInsecure) {
        logger.warn('authentication is off on a non-loopback listener: anyone who reaches it may do anything', { hosts: exposed, key: 'auth.allowInsecure' });
      } else {
        issues.push({
          key: 'auth.modes',
          problem: `mode none (no authentication) is only allowed on loopback listeners, but the service binds ${exposed.join(', ')}; set auth.modes to oidc and/or mtls, bind to 127.0.0.1, or set auth.allowInsecure (LARDER_AUTH_ALLOW_INSECURE) to accept the risk`,
          source: 'LARDER_AUTH_MODES / bind.host',
        });
      }
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
}
