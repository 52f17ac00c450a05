import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseJsonLossless } from '@larder/core';
import { Code, RpcError, codeName } from '@larder/rpc';
import type { Logger } from '@larder/rpc';
import type { Ingestion } from './ingestion';
import { dataFrameInput } from './push';
import type { PushDestination, WriteOutcome } from './push';

export interface HttpEndpoint {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024 * 1024;
const DESTINATIONS: readonly PushDestination[] = ['online', 'offline', 'online_and_offline'];

const STATUS: Partial<Record<Code, number>> = {
  [Code.INVALID_ARGUMENT]: 400,
  [Code.NOT_FOUND]: 404,
  [Code.FAILED_PRECONDITION]: 409,
  [Code.UNAVAILABLE]: 503,
  [Code.DEADLINE_EXCEEDED]: 504,
};

/**
 * Feast's feature-server write endpoints over JSON:
 * `POST /push` `{"push_source_name", "df": {"col": [...]}, "to": "online" | "offline" | "online_and_offline"}`
 * and `POST /write-to-online-store` `{"feature_view_name", "df"}`. The answer
 * is `{"rows_written", "rows_skipped_stale", "failures": [{"row_index", "column", "reason"}]}`:
 * 200 when every row was taken, 422 when some were rejected (the others were written).
 */
export async function startHttpEndpoint(ingestion: Ingestion, options: { host: string; port: number; logger: Logger }): Promise<HttpEndpoint> {
  const server = http.createServer((req, res) => {
    handle(ingestion, req)
      .then(({ status, body }) => send(res, status, body))
      .catch((error: unknown) => {
        const rpc = error instanceof RpcError ? error : undefined;
        if (rpc === undefined) options.logger.error('http push failed', { error });
        const status = rpc === undefined ? 500 : (STATUS[rpc.code] ?? 500);
        send(res, status, { error: { code: codeName(rpc?.code ?? Code.INTERNAL), message: rpc?.message ?? 'internal error (see server logs)' } });
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${options.host === '0.0.0.0' ? '127.0.0.1' : options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? Number(value) : value));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(ingestion: Ingestion, req: http.IncomingMessage): Promise<{ status: number; body: unknown }> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/health') return { status: 200, body: { status: 'ok' } };
  if (req.method !== 'POST' || (path !== '/push' && path !== '/write-to-online-store')) {
    throw new RpcError(Code.NOT_FOUND, `no route ${req.method ?? ''} ${path ?? ''}; use POST /push or POST /write-to-online-store`);
  }
  const body = await readJson(req);
  const df = body['df'];
  if (typeof df !== 'object' || df === null || Array.isArray(df)) throw new RpcError(Code.INVALID_ARGUMENT, 'df: required, an object of columns: {"column": [value, ...]}');
  const project = typeof body['project'] === 'string' ? body['project'] : '';
  let outcome: WriteOutcome;
  if (path === '/push') {
    const source = body['push_source_name'];
    if (typeof source !== 'string' || source === '') throw new RpcError(Code.INVALID_ARGUMENT, 'push_source_name: required');
    const to = body['to'] ?? 'online';
    if (!DESTINATIONS.includes(to as PushDestination)) throw new RpcError(Code.INVALID_ARGUMENT, `to: ${JSON.stringify(to)} is not one of ${DESTINATIONS.join(', ')}`);
    outcome = await ingestion.push(project, source, ({ timestampColumn, createdColumn }) => dataFrameInput(df as Record<string, unknown>, timestampColumn, createdColumn), to as PushDestination, undefined);
  } else {
    const view = body['feature_view_name'];
    if (typeof view !== 'string' || view === '') throw new RpcError(Code.INVALID_ARGUMENT, 'feature_view_name: required');
    const timestampColumn = typeof body['timestamp_column'] === 'string' ? body['timestamp_column'] : 'event_timestamp';
    outcome = await ingestion.writeToOnlineStore(project, view, () => dataFrameInput(df as Record<string, unknown>, timestampColumn, ''), undefined);
  }
  return {
    status: outcome.failures.length === 0 ? 200 : 422,
    body: {
      rows_written: outcome.rowsWritten,
      rows_skipped_stale: outcome.rowsSkippedStale,
      failures: outcome.failures.map((f) => ({ row_index: f.rowIndex, column: f.column, reason: f.reason })),
    },
  };
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new RpcError(Code.INVALID_ARGUMENT, `request body over ${MAX_BODY_BYTES} bytes; push in smaller batches`);
    chunks.push(chunk as Buffer);
  }
  let parsed: unknown;
  try {
    parsed = parseJsonLossless(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new RpcError(Code.INVALID_ARGUMENT, `the body is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new RpcError(Code.INVALID_ARGUMENT, 'the body must be a JSON object');
  return parsed as Record<string, unknown>;
}
