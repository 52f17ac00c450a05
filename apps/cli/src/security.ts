import path from 'node:path';
import type { ClientSecurity } from '@larder/rpc';
import type { CommandContext } from './command-spec';

/** Flag and environment variable of each client-security setting; the flag wins. */
const SETTINGS = {
  ca: ['tls-ca', 'LARDER_CLIENT_TLS_CA_FILE'],
  cert: ['tls-cert', 'LARDER_CLIENT_TLS_CERT_FILE'],
  key: ['tls-key', 'LARDER_CLIENT_TLS_KEY_FILE'],
  serverName: ['tls-server-name', 'LARDER_CLIENT_TLS_SERVER_NAME'],
  tokenFile: ['token-file', 'LARDER_CLIENT_TOKEN_FILE'],
} as const;

/**
 * How the CLI dials a service: TLS when --tls, --tls-ca, --tls-cert or --tls-server-name
 * (or their LARDER_CLIENT_TLS_* variables) is given; a bearer token from --token-file
 * (LARDER_CLIENT_TOKEN_FILE) or LARDER_TOKEN. Reads the files now, so a missing one is
 * named with the flag or variable that gave it before anything is sent.
 */
export async function clientSecurity(ctx: CommandContext): Promise<ClientSecurity> {
  const { clientTlsCredentials, staticToken, tokenFromFile } = await import('@larder/rpc');
  const flags = ctx.flags as Record<string, unknown>;
  const given = (name: keyof typeof SETTINGS): { value: string; from: string } | undefined => {
    const [flag, env] = SETTINGS[name];
    const fromFlag = flags[flag];
    if (typeof fromFlag === 'string' && fromFlag !== '') return { value: fromFlag, from: `--${flag}` };
    const fromEnv = ctx.io.env[env];
    return fromEnv !== undefined && fromEnv !== '' ? { value: fromEnv, from: env } : undefined;
  };
  const file = (setting: { value: string } | undefined): string | undefined => (setting === undefined ? undefined : path.resolve(ctx.io.cwd, setting.value));
  const ca = given('ca');
  const cert = given('cert');
  const key = given('key');
  const serverName = given('serverName');
  const tokenFile = given('tokenFile');
  const security: ClientSecurity = {};
  if ((cert === undefined) !== (key === undefined)) {
    throw new Error(
      cert === undefined
        ? `${key?.from} needs --tls-cert (a client certificate and its key go together)`
        : `${cert.from} needs --tls-key (a client certificate and its key go together)`,
    );
  }
  if (flags['tls'] === true || ca !== undefined || cert !== undefined || serverName !== undefined) {
    const tls = { caFile: file(ca), certFile: file(cert), keyFile: file(key), serverName: serverName?.value };
    try {
      clientTlsCredentials(tls);
    } catch (error) {
      const culprit = (error as { file?: string }).file === 'key' ? key : (error as { file?: string }).file === 'cert' ? cert : ca;
      throw new Error(`${culprit?.from ?? '--tls'}: ${(error as Error).message}`, { cause: error });
    }
    security.tls = tls;
  }
  if (tokenFile !== undefined) {
    try {
      security.token = tokenFromFile(file(tokenFile) as string);
    } catch (error) {
      throw new Error(`${tokenFile.from}: ${(error as Error).message}`, { cause: error });
    }
  } else if (ctx.io.env['LARDER_TOKEN'] !== undefined && ctx.io.env['LARDER_TOKEN'] !== '') {
    try {
      security.token = staticToken(ctx.io.env['LARDER_TOKEN']);
    } catch (error) {
      throw new Error(`LARDER_TOKEN: ${(error as Error).message}`, { cause: error });
    }
  }
  return security;
}
