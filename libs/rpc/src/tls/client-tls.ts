import { createPrivateKey } from 'node:crypto';
import { createSecureContext, rootCertificates } from 'node:tls';
import { experimental } from '@grpc/grpc-js';
import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import type { Logger } from '../logger';
import { parsePemCertificates, PemFileError, PemFiles } from './pem-files';
import type { FileContents } from './pem-files';

/** How a client of ours speaks TLS. */
export interface ClientTlsOptions {
  /** PEM bundle of the CAs trusted to sign the server's certificate; default the system's roots. */
  caFile?: string | undefined;
  /** A client certificate (chain) for mTLS, with keyFile. */
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** The name the server's certificate must carry, when it is not the host dialled (e.g. dialling an IP). */
  serverName?: string | undefined;
  /** How often the files are read again while a connection may be made (default 1 s). */
  pollMs?: number | undefined;
  logger?: Logger | undefined;
}

type Files = 'ca' | 'cert' | 'key';

/**
 * grpc-js channel credentials from PEM files, read again when they change: each new
 * connection (a reconnect after the server rotated, a new subchannel) uses the files of
 * that moment, so a rotated client certificate or CA bundle needs no restart. Throws now,
 * naming the file, when one is missing or unusable.
 */
export function clientTlsCredentials(options: ClientTlsOptions): { credentials: ChannelCredentials; channelOptions: ChannelOptions } {
  quietIpServerNameWarning();
  if (((options.certFile ?? '') === '') !== ((options.keyFile ?? '') === '')) {
    throw new Error('a client certificate needs both certFile and keyFile');
  }
  const files: Partial<Record<Files, string>> = {};
  if (options.caFile) files.ca = options.caFile;
  if (options.certFile) files.cert = options.certFile;
  if (options.keyFile) files.key = options.keyFile;
  const watched =
    Object.keys(files).length > 0
      ? new PemFiles<Files>({
          files: files as Record<Files, string>,
          what: 'client TLS files',
          logger: options.logger,
          pollMs: options.pollMs,
          validate: (contents) => validateClientFiles(contents, files),
        })
      : undefined;
  const systemRoots = Buffer.from(rootCertificates.join('\n'));
  const provider = new PemCertificateProvider(watched, systemRoots);
  const identity = options.certFile ? provider : null;
  return {
    credentials: experimental.createCertificateProviderChannelCredentials(provider, identity),
    channelOptions: options.serverName ? { 'grpc.ssl_target_name_override': options.serverName } : {},
  };
}

function validateClientFiles(contents: Partial<FileContents<Files>>, files: Partial<Record<Files, string>>): void {
  const parse = (name: Files): void => {
    try {
      parsePemCertificates((contents[name] as Buffer).toString('utf8'), files[name] as string);
    } catch (error) {
      throw new PemFileError(name, (error as Error).message, { cause: error });
    }
  };
  if (contents.ca) parse('ca');
  if (contents.cert && contents.key) {
    parse('cert');
    try {
      createPrivateKey(contents.key);
      createSecureContext({ cert: contents.cert, key: contents.key });
    } catch (error) {
      throw new PemFileError('key', `${files.key} cannot be used with the certificate in ${files.cert}: ${(error as Error).message}`, { cause: error });
    }
  }
}

/** grpc-js's certificate-provider interface over our watched files; listeners hear of accepted changes only. */
class PemCertificateProvider implements experimental.CertificateProvider {
  private readonly unsubscribe = new Map<object, () => void>();

  constructor(
    private readonly files: PemFiles<Files> | undefined,
    private readonly systemRoots: Buffer,
  ) {}

  private ca(): experimental.CaCertificateUpdate {
    return { caCertificate: (this.files?.current as Partial<FileContents<Files>> | undefined)?.ca ?? this.systemRoots };
  }

  private identity(): experimental.IdentityCertificateUpdate | null {
    const current = this.files?.current as Partial<FileContents<Files>> | undefined;
    return current?.cert && current.key ? { certificate: current.cert, privateKey: current.key } : null;
  }

  // Subscribed first: a new subscription catches up with files changed while no one listened.
  addCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    if (this.files)
      this.unsubscribe.set(
        listener,
        this.files.onChange(() => listener(this.ca())),
      );
    listener(this.ca());
  }

  removeCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.unsubscribe.get(listener)?.();
    this.unsubscribe.delete(listener);
  }

  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    if (this.files)
      this.unsubscribe.set(
        listener,
        this.files.onChange(() => listener(this.identity())),
      );
    listener(this.identity());
  }

  removeIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.unsubscribe.get(listener)?.();
    this.unsubscribe.delete(listener);
  }
}

let quieted = false;

/**
 * grpc-js sends the host dialled as the TLS server name, an IP address included, and
 * Node then prints DEP0123 ("Setting the TLS ServerName to an IP address is not
 * permitted by RFC 6066") on stderr, once per process: noise on every CLI command that
 * dials 127.0.0.1. The certificate is still checked against the address's IP SANs; only
 * that one warning is dropped.
 */
function quietIpServerNameWarning(): void {
  if (quieted) return;
  quieted = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: unknown, ...rest: unknown[]) => {
    const [typeOrOptions, code] = rest;
    const given = typeof typeOrOptions === 'object' && typeOrOptions !== null ? (typeOrOptions as { code?: unknown }).code : code;
    if (given === 'DEP0123') return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}
