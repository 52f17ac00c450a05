import { ConfigError, createLogger, loadConfig, serverConfigSchema } from '@larder/rpc';
import { authConfigSchema, checkAuthConfig, isLoopbackHost } from './config';
import { createAuthenticator } from './authenticator';

const schema = { ...serverConfigSchema(), ...authConfigSchema() };

function load(env: Record<string, string>) {
  return loadConfig(schema, { env });
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('authConfigSchema', () => {
  it('defaults to mode none with RS256/ES256, 30 s of skew and the groups claim', () => {
    const { auth } = load({});
    expect(auth.modes).toEqual(['none']);
    expect(auth.oidc.algorithms).toEqual(['RS256', 'ES256']);
    expect(auth.oidc.clockSkew).toBe(30_000);
    expect(auth.oidc.groupsClaim).toBe('groups');
    expect(auth.allowInsecure).toBe(false);
  });

  it('reads the modes, issuer, audiences and operators from the environment', () => {
    const { auth } = load({
      LARDER_AUTH_MODES: 'oidc, mtls',
      LARDER_AUTH_OIDC_ISSUER: 'https://kubernetes.default.svc.cluster.local',
      LARDER_AUTH_OIDC_AUDIENCES: 'larder,https://larder.example',
      LARDER_AUTH_OPERATORS: 'user:alice,sa:platform/larder-admin,group:platform',
      LARDER_AUTH_OIDC_CLOCK_SKEW: '1m',
    });
    expect(auth.modes).toEqual(['oidc', 'mtls']);
    expect(auth.oidc.audiences).toEqual(['larder', 'https://larder.example']);
    expect(auth.operators).toEqual(['user:alice', 'sa:platform/larder-admin', 'group:platform']);
    expect(auth.oidc.clockSkew).toBe(60_000);
  });

  it.each([['none'], ['HS256'], ['RS256,HS512'], ['RS256,none'], ['rs256']])('refuses algorithm list %s at load, naming the key', (value) => {
    const error = configError(() => load({ LARDER_AUTH_OIDC_ALGORITHMS: value }));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatchObject({ key: 'auth.oidc.algorithms', source: 'environment variable LARDER_AUTH_OIDC_ALGORITHMS' });
    expect(error.issues[0]?.problem).toContain('none and HS256/HS384/HS512 are refused');
  });

  it('refuses an unknown mode and a malformed operator identity', () => {
    const error = configError(() => load({ LARDER_AUTH_MODES: 'oidc,kerberos', LARDER_AUTH_OPERATORS: 'alice' }));
    expect(error.issues.map((i) => i.key).sort()).toEqual(['auth.modes', 'auth.operators']);
  });
});

describe('checkAuthConfig', () => {
  const logger = () => {
    const lines: string[] = [];
    return { lines, logger: createLogger({ service: 't', write: (l) => lines.push(l) }) };
  };

  it('mode oidc needs an issuer and an audience; none cannot be combined', () => {
    const { auth } = load({ LARDER_AUTH_MODES: 'none,oidc' });
    const error = configError(() => checkAuthConfig(auth, { hosts: ['127.0.0.1'] }, logger().logger));
    expect(error.issues.map((i) => i.key).sort()).toEqual(['auth.modes', 'auth.oidc.audiences', 'auth.oidc.issuer']);
    // createAuthenticator applies the same checks, so they cannot be skipped.
    expect(() => createAuthenticator(load({ LARDER_AUTH_MODES: 'oidc' }).auth, logger().logger)).toThrow(ConfigError);
  });

  it('mode mtls needs the client CA that verifies certificates', () => {
    const { auth } = load({ LARDER_AUTH_MODES: 'mtls' });
    const error = configError(() => checkAuthConfig(auth, { hosts: ['0.0.0.0'], clientCaFile: '' }, logger().logger));
    expect(error.issues[0]?.problem).toContain('tls.clientCaFile');
    expect(() => checkAuthConfig(auth, { hosts: ['0.0.0.0'], clientCaFile: '/etc/larder/ca.crt' }, logger().logger)).not.toThrow();
  });

  it('mode none on loopback listeners starts quietly', () => {
    const { auth } = load({});
    const log = logger();
    checkAuthConfig(auth, { hosts: ['127.0.0.1', 'localhost', '::1', '127.0.0.2'] }, log.logger);
    expect(log.lines).toEqual([]);
  });

  it('mode none on a non-loopback listener is a config error naming auth.modes and the address', () => {
    const { auth } = load({});
    const error = configError(() => checkAuthConfig(auth, { hosts: ['127.0.0.1', '0.0.0.0'] }, logger().logger));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.key).toBe('auth.modes');
    expect(error.message).toContain('0.0.0.0');
    expect(error.message).toContain('auth.allowInsecure');
  });

  it('auth.allowInsecure lets mode none run exposed, with a warning', () => {
    const { auth } = load({ LARDER_AUTH_ALLOW_INSECURE: 'true' });
    const log = logger();
    checkAuthConfig(auth, { hosts: ['::'] }, log.logger);
    expect(log.lines).toHaveLength(1);
    expect(JSON.parse(log.lines[0] as string)).toMatchObject({ level: 'warn', hosts: ['::'], key: 'auth.allowInsecure' });
  });

  it('with authentication on, any bind is fine', () => {
    const { auth } = load({ LARDER_AUTH_MODES: 'oidc', LARDER_AUTH_OIDC_ISSUER: 'https://issuer.example', LARDER_AUTH_OIDC_AUDIENCES: 'larder' });
    expect(() => checkAuthConfig(auth, { hosts: ['0.0.0.0'] }, logger().logger)).not.toThrow();
  });

  it.each([
    ['127.0.0.1', true],
    ['127.10.0.3', true],
    ['::1', true],
    ['[::1]', true],
    ['localhost', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.5', false],
    ['', false],
    ['127.0.0.1.example.com', false],
  ])('isLoopbackHost(%s) is %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});
