import { ConfigError } from '@larder/config';
import type { Logger } from '../logger';
import { tokenFromFile } from './bearer-token';
import type { TokenSource } from './bearer-token';
import { clientTlsCredentials } from './client-tls';
import type { ClientTlsOptions } from './client-tls';

/** The `client` keys of serverConfigSchema(): how a service dials another (the registry). */
export interface ClientConfig {
  readonly tls: { readonly caFile: string; readonly certFile: string; readonly keyFile: string; readonly serverName: string };
  readonly tokenFile: string;
}

/** What createClient (and RegistryClient's clientOptions) take for TLS and a bearer token. */
export interface ClientSecurity {
  tls?: ClientTlsOptions;
  token?: TokenSource;
}

/**
 * createClient options from the `client` configuration keys: TLS when client.tls.caFile,
 * certFile or serverName is set; a bearer token from client.tokenFile. Reads the files now
 * and throws a ConfigError naming the key when one is missing or unusable.
 */
export function clientSecurityFromConfig(config: ClientConfig, logger?: Logger): ClientSecurity {
  const { caFile, certFile, keyFile, serverName } = config.tls;
  const out: ClientSecurity = {};
  const problems: { key: string; problem: string; env: string }[] = [];
  if (certFile !== '' && keyFile === '')
    problems.push({ key: 'client.tls.keyFile', env: 'LARDER_CLIENT_TLS_KEY_FILE', problem: 'required when client.tls.certFile is set' });
  if (certFile === '' && keyFile !== '')
    problems.push({ key: 'client.tls.certFile', env: 'LARDER_CLIENT_TLS_CERT_FILE', problem: 'required when client.tls.keyFile is set' });
  if (problems.length === 0 && (caFile !== '' || certFile !== '' || serverName !== '')) {
    const tls: ClientTlsOptions = { caFile, certFile, keyFile, serverName, logger };
    try {
      clientTlsCredentials(tls); // reads and checks the files now
      out.tls = tls;
    } catch (error) {
      const text = (error as Error).message;
      const file = (error as { file?: string }).file;
      const [key, env] =
        file === 'key'
          ? ['client.tls.keyFile', 'LARDER_CLIENT_TLS_KEY_FILE']
          : file === 'cert'
            ? ['client.tls.certFile', 'LARDER_CLIENT_TLS_CERT_FILE']
            : ['client.tls.caFile', 'LARDER_CLIENT_TLS_CA_FILE'];
      problems.push({ key, env, problem: text });
    }
  }
  if (config.tokenFile !== '') {
    try {
      out.token = tokenFromFile(config.tokenFile);
    } catch (error) {
      problems.push({ key: 'client.tokenFile', env: 'LARDER_CLIENT_TOKEN_FILE', problem: (error as Error).message });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems.map(({ key, problem, env }) => ({ key, problem, source: `configuration (or ${env})` })));
  return out;
}
