import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface FetchJsonOptions {
  /** PEM CA bundle trusted for https URLs (instead of Node's built-in roots). */
  readonly ca?: string | Buffer;
  /** Sent as `Authorization: Bearer …` (the Kubernetes API server wants one for its JWKS). */
  readonly bearerToken?: string;
  readonly timeoutMs: number;
  /** Responses larger than this are refused (a key set is a few kB). */
  readonly maxBytes: number;
}

/**
 * GET a JSON document with a bound on time and size. Only for URLs from the operator's
 * configuration (the issuer, its jwks_uri): never a host a client named.
 */
export function fetchJson(url: string, options: FetchJsonOptions): Promise<unknown> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : target.protocol === 'http:' ? httpRequest : undefined;
  if (request === undefined) return Promise.reject(new Error(`unsupported URL scheme ${target.protocol} (use https)`));
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.bearerToken !== undefined) headers.authorization = `Bearer ${options.bearerToken}`;
    const req = request(
      target,
      { method: 'GET', headers, timeout: options.timeoutMs, ...(options.ca !== undefined && target.protocol === 'https:' && { ca: options.ca }) },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`GET ${url} answered HTTP ${res.statusCode ?? '?'}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxBytes) {
            req.destroy(new Error(`GET ${url}: response larger than ${options.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (error) {
            reject(new Error(`GET ${url}: not JSON (${(error as Error).message})`));
          }
        });
        res.on('error', reject);
      },
    );
    // `timeout` fires on socket inactivity; the overall deadline bounds a server that trickles.
    const deadline = setTimeout(() => req.destroy(new Error(`GET ${url}: no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${options.timeoutMs} ms`)));
    req.on('error', (error) => {
      clearTimeout(deadline);
      reject(error);
    });
    req.on('close', () => clearTimeout(deadline));
    req.end();
  });
}
