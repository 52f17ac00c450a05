import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { duration, int } from '@larder/config';
import type { ConfigOf } from '@larder/config';

/**
 * Limits of a JSON-over-HTTP endpoint, as configuration keys under the endpoint's own
 * environment prefix (LARDER_HTTP_ for online serving, LARDER_INGESTION_HTTP_ for ingestion).
 */
export function httpLimitsSchema(envPrefix: string) {
  return {
    maxBodyBytes: int({
      default: 8 * 1024 * 1024,
      min: 1024,
      env: `${envPrefix}MAX_BODY_BYTES`,
      doc: 'Largest request body; a larger one is refused with 413 before it is read.',
    }),
    headersTimeout: duration({ default: 10_000, min: 100, env: `${envPrefix}HEADERS_TIMEOUT`, doc: 'How long a client may take to send its request headers.' }),
    requestTimeout: duration({ default: 60_000, min: 100, env: `${envPrefix}REQUEST_TIMEOUT`, doc: 'How long a client may take to send a whole request.' }),
    bodyIdleTimeout: duration({
      default: 10_000,
      min: 100,
      env: `${envPrefix}BODY_IDLE_TIMEOUT`,
      doc: 'How long a request body may pause between two chunks before the connection is closed (408).',
    }),
  } as const;
}

export type HttpLimits = ConfigOf<ReturnType<typeof httpLimitsSchema>>;

/** Node checks headersTimeout and requestTimeout this often (its default, 30 s, would let a slow client stay long past them). */
const CONNECTION_CHECK_MS = 1_000;

/** An HTTP server that cuts clients slower than the limits allow. */
export function createLimitedServer(limits: HttpLimits, listener: RequestListener): Server {
  const server = createServer({ connectionsCheckingInterval: Math.min(CONNECTION_CHECK_MS, limits.headersTimeout) }, listener);
  server.headersTimeout = limits.headersTimeout;
  // Node wants requestTimeout at least headersTimeout (0 would turn it off).
  server.requestTimeout = Math.max(limits.requestTimeout, limits.headersTimeout);
  server.keepAliveTimeout = 65_000;
  return server;
}

/**
 * A request refused before its body was used: the HTTP status, a gRPC-style code name
 * for the error body, and a message. Call discardRefusedBody before answering it.
 */
export class HttpBodyError extends Error {
  constructor(
    readonly status: 413 | 415 | 408 | 400,
    readonly code: 'RESOURCE_EXHAUSTED' | 'INVALID_ARGUMENT' | 'DEADLINE_EXCEEDED',
    message: string,
  ) {
    super(message);
    this.name = 'HttpBodyError';
  }
}

/** The media type of a Content-Type header, lower case, without parameters. */
function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * The body of a JSON request as text. Refuses, without reading further: a media type other
 * than application/json (415: a web page can send text/plain or a typeless body cross-site
 * without asking, but not application/json), a Content-Length or a streamed size over
 * maxBodyBytes (413), and a body that pauses longer than bodyIdleTimeout (408).
 */
export async function readJsonBody(req: IncomingMessage, limits: Pick<HttpLimits, 'maxBodyBytes' | 'bodyIdleTimeout'>): Promise<string> {
  const type = mediaType(req.headers['content-type']);
  if (type !== 'application/json') {
    throw new HttpBodyError(
      415,
      'INVALID_ARGUMENT',
      `content-type: expected application/json, got ${type === '' ? 'none' : JSON.stringify(type.slice(0, 100))}`,
    );
  }
  const max = limits.maxBodyBytes;
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) {
    throw new HttpBodyError(413, 'RESOURCE_EXHAUSTED', `request body of ${declared} bytes is over the limit of ${max} bytes; send smaller batches`);
  }
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (error: HttpBodyError | undefined): void => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted);
      if (error === undefined) {
        resolve(Buffer.concat(chunks, size).toString('utf8'));
        return;
      }
      // Stop taking the client's bytes; the caller answers and the connection closes.
      req.pause();
      chunks.length = 0;
      reject(error);
    };
    const idle = (): void => {
      clearTimeout(timer);
      timer = setTimeout(
        () => finish(new HttpBodyError(408, 'DEADLINE_EXCEEDED', `the request body paused for more than ${limits.bodyIdleTimeout} ms`)),
        limits.bodyIdleTimeout,
      );
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        finish(new HttpBodyError(413, 'RESOURCE_EXHAUSTED', `request body is over the limit of ${max} bytes; send smaller batches`));
        return;
      }
      chunks.push(chunk);
      idle();
    };
    const onEnd = (): void => finish(undefined);
    const onError = (): void => finish(new HttpBodyError(400, 'INVALID_ARGUMENT', 'the request body could not be read'));
    const onAborted = onError;
    req.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted);
    idle();
  });
}

/** What a refused body may still send, dropped unread, before its connection is cut. */
const DISCARD_BYTES = 64 * 1024 * 1024;
const DISCARD_MS = 10_000;

/**
 * Before answering a refused request: a client still uploading (a 413 from the
 * Content-Length, a 415 sent with its body) would meet a reset instead of the answer if
 * the connection closed now, so the rest of the body is read and dropped, at most
 * DISCARD_BYTES or DISCARD_MS, past which the socket is destroyed. A stalled body (408)
 * has nothing left to wait for: its connection closes with the answer.
 */
export function discardRefusedBody(req: IncomingMessage, res: ServerResponse, error: HttpBodyError): void {
  if (error.status === 408 || req.complete) {
    if (error.status === 408) res.setHeader('connection', 'close');
    return;
  }
  // No `connection: close`: Node would end the socket with the answer, before the body.
  let dropped = 0;
  const cut = (): void => {
    clearTimeout(timer);
    req.socket.destroy();
  };
  const timer = setTimeout(cut, DISCARD_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DISCARD_BYTES) cut();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  // Flowing before the answer is sent, so Node counts the body as consumed (no dump that
  // would drop our listener) and keeps the socket open until the body ends.
  req.resume();
}
