// Test-only: an EchoService implementation and a server factory shared by
// the specs of this lib. Not exported from index.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '@larder/config';
import { Code } from '../code';
import { ErrorMappings } from '../error-mappings';
import { RpcError } from '../rpc-error';
import { serverConfigSchema } from '../server-config';
import type { ServerConfig } from '../server-config';
import { createLogger } from '../logger';
import type { Logger } from '../logger';
import type { HandlerContext, ServiceImpl } from '../adapter/types';
import { EchoService } from './gen/larder/rpctest/v1/echo_pb';

export { EchoService };

export class QuotaError extends Error {
  constructor(readonly quota: string) {
    super(`quota "${quota}" is used up`);
  }
}
/** The mappings the echo servers of these specs run with. */
export const echoErrorMappings = (): ErrorMappings => new ErrorMappings().map(QuotaError, Code.RESOURCE_EXHAUSTED);

export const SECRET = 'SELECT password FROM users -- secret detail';

/** What the handlers observed, for assertions. */
export interface Observed {
  aborted: Array<{ method: string; reason: unknown }>;
  streamFinally: number;
  headers: Array<Record<string, string>>;
}

export function newObserved(): Observed {
  return { aborted: [], streamFinally: 0, headers: [] };
}

function watchAbort(ctx: HandlerContext, observed: Observed): void {
  ctx.signal.addEventListener('abort', () => observed.aborted.push({ method: ctx.call.method, reason: ctx.signal.reason }));
}

async function fail(kind: string, text = ''): Promise<void> {
  switch (kind) {
    case 'echo':
      throw new RpcError(Code.INVALID_ARGUMENT, `unknown name "${text}"`);
    case 'internal':
      throw new Error(SECRET);
    case 'not-found':
      throw new RpcError(Code.NOT_FOUND, 'feature view "drivers" not found', { metadata: { 'x-missing': 'drivers' } });
    case 'quota':
      throw new QuotaError('reads');
    case 'coded':
      throw Object.assign(new Error('bad feature ref "x"'), { code: 'INVALID_ARGUMENT' });
    case 'string':
      throw SECRET;
  }
}

export function echoImpl(observed: Observed): ServiceImpl<typeof EchoService> {
  return {
    async echo(request, ctx) {
      observed.headers.push({ ...ctx.headers });
      watchAbort(ctx, observed);
      ctx.setHeader('x-echo-header', 'h');
      ctx.setTrailer('x-echo-trailer', 't');
      await fail(request.fail, request.text);
      if (request.delayMs > 0) await sleep(request.delayMs, undefined, { signal: ctx.signal });
      return { text: request.text };
    },
    async *echoMany(request, ctx) {
      watchAbort(ctx, observed);
      try {
        for (let i = 0; i < request.repeat; i++) {
          if (request.delayMs > 0) await sleep(request.delayMs, undefined, { signal: ctx.signal });
          yield { text: request.text, index: i };
          if (request.fail !== '' && i === 1) await fail(request.fail);
        }
      } finally {
        observed.streamFinally++;
      }
    },
    async collect(requests, ctx) {
      watchAbort(ctx, observed);
      const texts: string[] = [];
      for await (const request of requests) {
        await fail(request.fail);
        texts.push(request.text);
      }
      return { text: texts.join(','), index: texts.length };
    },
    async *chat(requests, ctx) {
      watchAbort(ctx, observed);
      let i = 0;
      for await (const request of requests) {
        yield { text: request.text.toUpperCase(), index: i++ };
      }
    },
  };
}

/** Server configuration for tests: loopback, free ports, short grace period. */
export function testConfig(overrides: { gracePeriod?: number; reflection?: boolean; metrics?: boolean } = {}): ServerConfig {
  return loadConfig(serverConfigSchema(), {
    env: {},
    overrides: {
      grpc: { host: '127.0.0.1', port: 0, reflection: overrides.reflection ?? true },
      metrics: { host: '127.0.0.1', port: 0, enabled: overrides.metrics ?? true },
      log: { level: 'debug' },
      shutdown: { gracePeriod: overrides.gracePeriod ?? 2000 },
    },
  });
}

/** A logger that keeps its lines. */
export function memoryLogger(service = 'test'): { logger: Logger; lines: string[]; records: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const logger = createLogger({ service, level: 'debug', write: (line) => void lines.push(line) });
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}
