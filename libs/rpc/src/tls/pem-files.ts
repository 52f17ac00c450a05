import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Logger } from '../logger';

/** How often watched certificate and key files are read again (Kubernetes updates a mounted secret within about a minute). */
export const DEFAULT_TLS_POLL_MS = 1000;

const BEGIN_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * The certificates of a PEM text, parsed; throws naming `what` when there is none or one
 * does not parse. Needed for CA bundles: tls.createSecureContext takes a `ca` of garbage
 * without a word and then trusts nothing.
 */
export function parsePemCertificates(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(BEGIN_CERT) ?? [];
  if (blocks.length === 0) throw new Error(`${what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new Error(`${what}: certificate ${i + 1} does not parse: ${(error as Error).message}`, { cause: error });
    }
  });
}

/** A short description of a certificate for logs: subject, serial, expiry. */
export function describeCertificate(cert: X509Certificate): { subject: string; serialNumber: string; notAfter: string } {
  return { subject: cert.subject.replace(/\n/g, ', '), serialNumber: cert.serialNumber, notAfter: new Date(cert.validTo).toISOString() };
}

export type FileContents<K extends string> = Readonly<Record<K, Buffer>>;

/** A watched file that is missing or unusable; `file` is its logical name (e.g. "key"). */
export class PemFileError extends Error {
  override readonly name = 'PemFileError';
  constructor(
    readonly file: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface PemFilesOptions<K extends string> {
  /** Logical name -> path; every file is read each time. */
  files: Readonly<Record<K, string>>;
  /** Throws (a PemFileError naming the culprit) when the contents cannot be used together, e.g. a key that is not the certificate's. */
  validate: (contents: FileContents<K>) => void;
  logger?: Logger | undefined;
  /** Default DEFAULT_TLS_POLL_MS. */
  pollMs?: number | undefined;
  /** For log lines, e.g. "server certificate". */
  what: string;
  /** Log fields describing accepted contents (subject, serial, expiry). */
  describe?: (contents: FileContents<K>) => Record<string, unknown>;
}

/**
 * A set of PEM files read together, and read again every pollMs while someone listens.
 * Contents are compared, not inotify events or mtimes: Kubernetes updates a mounted secret
 * by swapping the `..data` symlink of its folder, which no watch on the file itself sees.
 * New contents replace the current ones only when they validate together; until then (a
 * poll between the certificate's and the key's write, or bad files) the last good set
 * stays in use and the problem is logged once.
 */
export class PemFiles<K extends string> {
  private contents: FileContents<K>;
  private readonly listeners = new Set<(contents: FileContents<K>) => void>();
  private timer: NodeJS.Timeout | undefined;
  private reading = false;
  private lastProblem = '';
  private closed = false;
  /** performance.now() of the last read. */
  private readAt = performance.now();

  /** Reads and validates the files now; throws naming the file that is missing or bad. */
  constructor(private readonly options: PemFilesOptions<K>) {
    const contents = {} as Record<K, Buffer>;
    for (const [name, file] of Object.entries(options.files) as [K, string][]) {
      try {
        contents[name] = readFileSync(file);
      } catch (error) {
        throw new PemFileError(name, `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
      }
    }
    options.validate(contents);
    this.contents = contents;
  }

  get current(): FileContents<K> {
    return this.contents;
  }

  /** Calls `listener` with each new accepted set; polling runs while there are listeners. Returns the unsubscribe function. */
  onChange(listener: (contents: FileContents<K>) => void): () => void {
    // Nobody was polling (a client between connections): catch up now, so whoever
    // subscribes (a new connection) starts from the files as they are, not as they were.
    if (this.timer === undefined && !this.closed && performance.now() - this.readAt >= this.pollMs) this.accept(this.readSync());
    this.listeners.add(listener);
    if (this.timer === undefined && !this.closed) {
      this.timer = setInterval(() => void this.poll(), this.pollMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** Reads the files once now; resolves true when new contents were accepted. */
  async poll(): Promise<boolean> {
    if (this.reading || this.closed) return false;
    this.reading = true;
    try {
      const entries = Object.entries(this.options.files) as [K, string][];
      let next: Record<K, Buffer> | Error;
      try {
        const read = await Promise.all(entries.map(([, file]) => readFile(file)));
        next = {} as Record<K, Buffer>;
        for (const [i, [name]] of entries.entries()) next[name] = read[i] as Buffer;
      } catch (error) {
        next = error as Error;
      }
      return this.accept(next);
    } finally {
      this.reading = false;
    }
  }

  private get pollMs(): number {
    return this.options.pollMs ?? DEFAULT_TLS_POLL_MS;
  }

  private readSync(): Record<K, Buffer> | Error {
    const next = {} as Record<K, Buffer>;
    try {
      for (const [name, file] of Object.entries(this.options.files) as [K, string][]) next[name] = readFileSync(file);
    } catch (error) {
      return error as Error;
    }
    return next;
  }

  /** Takes contents just read when they changed and validate; true when taken. */
  private accept(next: Record<K, Buffer> | Error): boolean {
    this.readAt = performance.now();
    if (next instanceof Error) {
      this.problem(`cannot read: ${next.message}`);
      return false;
    }
    const names = Object.keys(this.options.files) as K[];
    if (names.every((name) => next[name].equals(this.contents[name]))) {
      this.lastProblem = '';
      return false;
    }
    try {
      this.options.validate(next);
    } catch (error) {
      this.problem((error as Error).message);
      return false;
    }
    this.contents = next;
    this.lastProblem = '';
    this.options.logger?.info(`${this.options.what} reloaded`, { files: Object.values(this.options.files), ...this.options.describe?.(next) });
    for (const listener of this.listeners) listener(next);
    return true;
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.stop();
  }

  private stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private problem(text: string): void {
    if (text === this.lastProblem) return;
    this.lastProblem = text;
    this.options.logger?.warn(`${this.options.what} changed but was not loaded; keeping the previous one`, {
      files: Object.values(this.options.files),
      problem: text,
    });
  }
}
