import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { InterceptingCall, Metadata, status as grpcStatus } from '@grpc/grpc-js';
import type { Interceptor } from '@grpc/grpc-js';

/** Where a client gets the bearer token it sends on each call. */
export interface TokenSource {
  /** The token (without "Bearer "); rejects when it cannot be had. */
  token(): Promise<string>;
  /** For messages: "token file /var/run/…" or "fixed token". */
  readonly description: string;
}

/** Largest token file read; a Kubernetes projected token is about 1 kB, an OIDC id token a few. */
const MAX_TOKEN_BYTES = 64 * 1024;

/** A token given once (a flag, LARDER_TOKEN). */
export function staticToken(value: string): TokenSource {
  const token = checkToken(value.trim(), 'the token');
  return { token: () => Promise.resolve(token), description: 'fixed token' };
}

/**
 * A token kept in a file and read again when the file changes: a Kubernetes projected
 * service-account token is rewritten (by a symlink swap) before it expires. Each call
 * stats the file (a few microseconds, off the event loop) and reads it again only when
 * its identity, size or times differ from the last read, so the call after a rewrite
 * sends the new token. Concurrent calls share one check. Reads the file once now, so a
 * missing or empty file is reported at start.
 */
export function tokenFromFile(file: string): TokenSource {
  let current = readTokenSync(file);
  let signature: string | undefined;
  let checking: Promise<string> | undefined;
  const check = async (): Promise<string> => {
    let info;
    try {
      info = await stat(file);
    } catch (error) {
      throw new Error(`cannot read the token file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
    }
    const next = `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
    if (next === signature) return current;
    if (info.size > MAX_TOKEN_BYTES) throw new Error(`the token file ${file} is ${info.size} bytes, over the ${MAX_TOKEN_BYTES} a token may have`);
    const text = await readFile(file, 'utf8');
    current = checkToken(text.trim(), `the token file ${file}`);
    signature = next;
    return current;
  };
  return {
    description: `token file ${file}`,
    token: () => (checking ??= check().finally(() => (checking = undefined))),
  };
}

function readTokenSync(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the token file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  return checkToken(text.trim(), `the token file ${file}`);
}

function checkToken(token: string, what: string): string {
  if (token === '') throw new Error(`${what} is empty`);
  if (Buffer.byteLength(token) > MAX_TOKEN_BYTES) throw new Error(`${what} is over ${MAX_TOKEN_BYTES} bytes`);
  // Metadata values are visible ASCII; a newline inside would split the header.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new Error(`${what} holds characters a token cannot have (spaces, control or non-ASCII characters)`);
  return token;
}

/**
 * A grpc-js client interceptor sending `authorization: Bearer <token>` with each call.
 * Works on plaintext channels too (grpc-js call credentials only go over TLS). When the
 * token cannot be had, the call fails UNAUTHENTICATED with the reason, without reaching
 * the server.
 */
export function bearerTokenInterceptor(source: TokenSource): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        source.token().then(
          (token) => {
            metadata.set('authorization', `Bearer ${token}`);
            next(metadata, listener);
          },
          (error: unknown) => {
            listener.onReceiveStatus?.({ code: grpcStatus.UNAUTHENTICATED, details: (error as Error).message, metadata: new Metadata() });
          },
        );
      },
    });
}
