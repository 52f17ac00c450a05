import { createPrivateKey } from 'node:crypto';
import type { KeyObject, X509Certificate } from 'node:crypto';
import type { Server as HttpsServer, ServerOptions as HttpsServerOptions } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { SecureContextOptions } from 'node:tls';
import { ServerCredentials } from '@grpc/grpc-js';
import type { SecureServerOptions } from 'node:http2';
import { ConfigError } from '@larder/config';
import type { ConfigIssue } from '@larder/config';
import type { Logger } from '../logger';
import { describeCertificate, parsePemCertificates, PemFileError, PemFiles } from './pem-files';
import type { FileContents } from './pem-files';

/** The `tls` keys of serverConfigSchema(). */
export interface ServerTlsConfig {
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile: string;
  readonly requireClientCert: boolean;
}

/**
 * A TLS handshake must finish within this; Node's default (120 s) lets a client that
 * opens connections and sends nothing hold each for two minutes.
 */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

type Files = 'cert' | 'key' | 'ca';
const KEYS: Record<Files, [string, string]> = {
  cert: ['tls.certFile', 'LARDER_TLS_CERT_FILE'],
  key: ['tls.keyFile', 'LARDER_TLS_KEY_FILE'],
  ca: ['tls.clientCaFile', 'LARDER_TLS_CLIENT_CA_FILE'],
};

/**
 * A service's TLS identity (certificate chain and key) and, for mTLS, the CA its clients'
 * certificates are checked against, from PEM files that are read again when they change.
 * One per service, shared by the gRPC port and every HTTP listener; each takes new
 * files for new connections while connections already open (and their calls) go on.
 */
export class ServerTls {
  /** Whether clients are asked for a certificate (a client CA is configured). */
  readonly requestClientCert: boolean;
  /** Whether a connection without a valid client certificate is refused in the handshake. */
  readonly requireClientCert: boolean;
  private readonly files: PemFiles<Files>;
  private readonly credentials: ReloadingServerCredentials[] = [];

  /**
   * TLS from the `tls` configuration keys; undefined when tls.certFile is empty (plaintext).
   * Throws a ConfigError naming the key when a file is missing or unusable, or the keys
   * do not go together.
   */
  static fromConfig(config: ServerTlsConfig, options: { logger?: Logger | undefined; pollMs?: number | undefined } = {}): ServerTls | undefined {
    const issues: ConfigIssue[] = [];
    const issue = (key: string, env: string, problem: string): void => void issues.push({ key: `tls.${key}`, problem, source: `configuration (or ${env})` });
    if (config.certFile === '' && config.keyFile !== '') issue('certFile', 'LARDER_TLS_CERT_FILE', 'required when tls.keyFile is set');
    if (config.certFile !== '' && config.keyFile === '') issue('keyFile', 'LARDER_TLS_KEY_FILE', 'required when tls.certFile is set');
    if (config.certFile === '' && config.clientCaFile !== '')
      issue('clientCaFile', 'LARDER_TLS_CLIENT_CA_FILE', 'client certificates need TLS: set tls.certFile and tls.keyFile too');
    if (config.requireClientCert && config.clientCaFile === '')
      issue('requireClientCert', 'LARDER_TLS_REQUIRE_CLIENT_CERT', 'needs tls.clientCaFile, the CA client certificates are checked against');
    if (issues.length > 0) throw new ConfigError(issues);
    if (config.certFile === '') return undefined;
    try {
      return new ServerTls(config, options.logger, options.pollMs);
    } catch (error) {
      if (!(error instanceof PemFileError)) throw error;
      const [key, env] = KEYS[error.file as Files];
      throw new ConfigError([{ key, problem: error.message, source: `configuration (or ${env})` }]);
    }
  }

  private constructor(config: ServerTlsConfig, logger: Logger | undefined, pollMs: number | undefined) {
    this.requestClientCert = config.clientCaFile !== '';
    this.requireClientCert = config.requireClientCert;
    const files: Record<Files, string> = { cert: config.certFile, key: config.keyFile, ca: config.clientCaFile };
    const named: Partial<Record<Files, string>> = { cert: config.certFile, key: config.keyFile };
    if (config.clientCaFile !== '') named.ca = config.clientCaFile;
    this.files = new PemFiles<Files>({
      files: named as Record<Files, string>,
      what: 'server TLS certificate',
      logger,
      pollMs,
      validate: (contents) => validateServerFiles(contents, files),
      describe: (contents) => describeCertificate(leaf(contents.cert)),
    });
    logger?.info('tls on', {
      ...describeCertificate(leaf(this.files.current.cert)),
      clientCertificates: this.requireClientCert ? 'required' : this.requestClientCert ? 'verified when sent' : 'not asked for',
    });
  }

  /** The certificate, key and client CA in use now, as tls.createSecureContext takes them. */
  secureContextOptions(): SecureContextOptions {
    const { cert, key, ca } = this.files.current as Partial<FileContents<Files>>;
    return { cert, key, ...(ca !== undefined && { ca }) };
  }

  /** The certificate served now (the first of the chain). */
  certificate(): X509Certificate {
    return leaf(this.files.current.cert);
  }

  /** Options for https.createServer: the current files, client-certificate policy, handshake timeout. */
  httpsOptions(): HttpsServerOptions {
    return { ...this.secureContextOptions(), ...this.connectionOptions() };
  }

  /** Makes `server` serve new files to new connections from now on, until it closes. */
  follow(server: HttpsServer): void {
    const stop = this.onReload((options) => server.setSecureContext(options));
    server.once('close', stop);
  }

  /** gRPC server credentials that serve new files to new connections. */
  grpcCredentials(): ServerCredentials {
    const credentials = new ReloadingServerCredentials(this.connectionOptions(), this.secureContextOptions());
    credentials.unsubscribe = this.onReload((options) => credentials.update(options));
    this.credentials.push(credentials);
    return credentials;
  }

  /** Calls `listener` with new secure-context options after the files changed and validated. */
  onReload(listener: (options: SecureContextOptions) => void): () => void {
    return this.files.onChange(() => listener(this.secureContextOptions()));
  }

  /** Reads the files now instead of waiting for the next poll (tests, SIGHUP). */
  reloadNow(): Promise<boolean> {
    return this.files.poll();
  }

  /** Stops watching the files. */
  close(): void {
    for (const credentials of this.credentials) credentials.unsubscribe?.();
    this.files.close();
  }

  private connectionOptions(): SecureServerOptions {
    return {
      requestCert: this.requestClientCert,
      // Without requireClientCert a certificate that fails verification still connects, as
      // an anonymous caller: grpc-js and peerCertificateOf only report verified ones.
      rejectUnauthorized: this.requireClientCert,
      handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
    };
  }
}

function leaf(chain: Buffer): X509Certificate {
  return parsePemCertificates(chain.toString('utf8'), 'certificate')[0] as X509Certificate;
}

function validateServerFiles(contents: FileContents<Files>, files: Record<Files, string>): void {
  const chain = parse(contents.cert, 'cert', files.cert);
  if (contents.ca !== undefined) parse(contents.ca, 'ca', files.ca);
  const key = privateKey(contents.key, files.key);
  if (!(chain[0] as X509Certificate).checkPrivateKey(key))
    throw new PemFileError('key', `${files.key} is not the private key of the certificate in ${files.cert}`);
  try {
    createSecureContext({ cert: contents.cert, key: contents.key, ...(contents.ca !== undefined && { ca: contents.ca }) });
  } catch (error) {
    throw new PemFileError('cert', `${files.cert} with ${files.key} cannot be served: ${(error as Error).message}`, { cause: error });
  }
}

function parse(pem: Buffer, name: Files, file: string): X509Certificate[] {
  try {
    return parsePemCertificates(pem.toString('utf8'), file);
  } catch (error) {
    throw new PemFileError(name, (error as Error).message, { cause: error });
  }
}

function privateKey(pem: Buffer, file: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new PemFileError('key', `${file} holds no usable PEM private key (${(error as Error).message})`, { cause: error });
  }
}

/**
 * grpc-js server credentials whose secure context can be replaced: grpc-js calls its
 * server's setSecureContext for each update, which applies to connections made after it.
 * (grpc-js's own FileWatcherCertificateProvider publishes a failed read as "no
 * credentials", after which the server drops every new connection until a read succeeds;
 * a mismatched key/cert pair read mid-rotation did the same.)
 */
class ReloadingServerCredentials extends ServerCredentials {
  unsubscribe: (() => void) | undefined;

  update(options: SecureContextOptions): void {
    this.updateSecureContextOptions(options);
  }

  override _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}
