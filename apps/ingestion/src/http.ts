import type http from 'node:http';
import { parseJsonInSlices } from '@larder/core';
import { Code, createHttpListener, discardRefusedBody, HttpBodyError, readJsonBody, RpcError, codeName } from '@larder/rpc';
import type { HttpLimits, Logger, ServerTls } from '@larder/rpc';
import type { Principal } from '@larder/auth';
import type { Ingestion } from './ingestion';
import { dataFrameInput } from './push';
import type { PushDestination, WriteOutcome } from './push';

export interface HttpEndpoint {
  readonly port: number;
  /** "host:port" as the socket is bound. */
  readonly bound: string;
  /** "https://host:port" (or http) a client on this machine dials. */
  readonly url: string;
  /** "https://host:port" (or http) as the socket is bound, for the listening line. */
  readonly boundUrl: string;
  close(): Promise<void>;
}

/**
 * Rows of a data frame written per store call: a large push is written in chunks, the
 * event loop getting a turn between them, so other calls are not held up behind it.
 */
export const PUSH_CHUNK_ROWS = 250;
const DESTINATIONS: readonly PushDestination[] = ['online', 'offline', 'online_and_offline'];

const STATUS: Partial<Record<Code, number>> = {
  [Code.INVALID_ARGUMENT]: 400,
  [Code.OUT_OF_RANGE]: 400,
  [Code.PERMISSION_DENIED]: 403,
  [Code.NOT_FOUND]: 404,
  [Code.FAILED_PRECONDITION]: 409,
  [Code.ALREADY_EXISTS]: 409,
  [Code.ABORTED]: 409,
  [Code.RESOURCE_EXHAUSTED]: 429,
  [Code.UNIMPLEMENTED]: 501,
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
/** The caller of a request, or undefined once the refusal (401) has been answered. */
export type CallerOf = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<Principal | undefined>;

export async function startHttpEndpoint(
  ingestion: Ingestion,
  options: { host: string; port: number; logger: Logger; limits: HttpLimits; tls?: ServerTls | undefined; principal?: CallerOf },
): Promise<HttpEndpoint> {
  const listener = await createHttpListener({ host: options.host, port: options.port, tls: options.tls, limits: options.limits }, (req, res) => {
    // Who asks, before the body is read (GET /health stays open: it says nothing).
    const open = req.method === 'GET' && (req.url ?? '/').split('?')[0] === '/health';
    const caller = open || options.principal === undefined ? Promise.resolve(undefined) : options.principal(req, res);
    caller
      .then(async (principal) => {
        if (!open && options.principal !== undefined && principal === undefined) return undefined;
        return handle(ingestion, req, options.limits, principal);
      })
      .then((answer) => answer !== undefined && send(res, answer.status, answer.body))
      .catch((error: unknown) => {
        if (error instanceof HttpBodyError) {
          discardRefusedBody(req, res, error);
          send(res, error.status, { error: { code: error.code, message: error.message } });
          return;
        }
        const rpc = error instanceof RpcError ? error : undefined;
        if (rpc === undefined) options.logger.error('http push failed', { error });
        const status = rpc === undefined ? 500 : (STATUS[rpc.code] ?? 500);
        send(res, status, { error: { code: codeName(rpc?.code ?? Code.INTERNAL), message: rpc?.message ?? 'internal error (see server logs)' } });
      });
  });
  const { bound, port, url, boundUrl } = listener;
  return { port, bound, url, boundUrl, close: () => listener.close('idle') };
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? Number(value) : value));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function handle(
  ingestion: Ingestion,
  req: http.IncomingMessage,
  limits: HttpLimits,
  principal: Principal | undefined,
): Promise<{ status: number; body: unknown }> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/health') return { status: 200, body: { status: 'ok' } };
  if (req.method !== 'POST' || (path !== '/push' && path !== '/write-to-online-store')) {
    throw new RpcError(Code.NOT_FOUND, `no route ${req.method ?? ''} ${path ?? ''}; use POST /push or POST /write-to-online-store`);
  }
  const body = await readJson(req, limits);
  const df = body['df'];
  if (typeof df !== 'object' || df === null || Array.isArray(df))
    throw new RpcError(Code.INVALID_ARGUMENT, 'df: required, an object of columns: {"column": [value, ...]}');
  const frame = df as Record<string, unknown>;
  const project = typeof body['project'] === 'string' ? body['project'] : '';
  let write: (chunk: Record<string, unknown>, whole: boolean) => Promise<WriteOutcome>;
  if (path === '/push') {
    const source = body['push_source_name'];
    if (typeof source !== 'string' || source === '') throw new RpcError(Code.INVALID_ARGUMENT, 'push_source_name: required');
    const to = body['to'] ?? 'online';
    if (!DESTINATIONS.includes(to as PushDestination))
      throw new RpcError(Code.INVALID_ARGUMENT, `to: ${JSON.stringify(to)} is not one of ${DESTINATIONS.join(', ')}`);
    write = (chunk, first) =>
      ingestion.push(
        project,
        source,
        ({ timestampColumn, createdColumn }) => checkedChunk(frame, chunk, first, timestampColumn, createdColumn),
        to as PushDestination,
        undefined,
        principal,
      );
  } else {
    const view = body['feature_view_name'];
    if (typeof view !== 'string' || view === '') throw new RpcError(Code.INVALID_ARGUMENT, 'feature_view_name: required');
    const timestampColumn = typeof body['timestamp_column'] === 'string' ? body['timestamp_column'] : 'event_timestamp';
    write = (chunk, first) => ingestion.writeToOnlineStore(project, view, () => checkedChunk(frame, chunk, first, timestampColumn, ''), undefined, principal);
  }
  const outcome = await writeInChunks(frame, write);
  return {
    status: outcome.failures.length === 0 ? 200 : 422,
    body: {
      rows_written: outcome.rowsWritten,
      rows_skipped_stale: outcome.rowsSkippedStale,
      failures: outcome.failures.map((f) => ({ row_index: f.rowIndex, column: f.column, reason: f.reason })),
    },
  };
}

/**
 * The frame's rows written PUSH_CHUNK_ROWS at a time. Mistakes of the whole frame (a short
 * column, a missing timestamp or join-key column) are found with the first chunk, before
 * anything is written; a store failure on a later chunk leaves the earlier ones written
 * (writes are idempotent: the client retries the push).
 */
async function writeInChunks(
  frame: Record<string, unknown>,
  write: (chunk: Record<string, unknown>, first: boolean) => Promise<WriteOutcome>,
): Promise<WriteOutcome> {
  const first = Object.values(frame)[0];
  const rows = Array.isArray(first) ? first.length : 0;
  if (rows <= PUSH_CHUNK_ROWS) return write(frame, true);
  const total: WriteOutcome = { rowsWritten: 0n, rowsSkippedStale: 0n, failures: [] };
  for (let start = 0; start < rows; start += PUSH_CHUNK_ROWS) {
    const chunk = Object.fromEntries(Object.entries(frame).map(([name, values]) => [name, (values as unknown[]).slice(start, start + PUSH_CHUNK_ROWS)]));
    const outcome = await write(chunk, start === 0);
    total.rowsWritten += outcome.rowsWritten;
    total.rowsSkippedStale += outcome.rowsSkippedStale;
    for (const failure of outcome.failures) total.failures.push({ ...failure, rowIndex: failure.rowIndex + BigInt(start) });
    // The store call may have answered at once (sqlite): give other requests their turn.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return total;
}

/** The rows of one chunk; the first chunk also checks the shape of the whole frame. */
function checkedChunk(frame: Record<string, unknown>, chunk: Record<string, unknown>, first: boolean, timestampColumn: string, createdColumn: string) {
  if (first && chunk !== frame) dataFrameInput(frame, timestampColumn, createdColumn);
  return dataFrameInput(chunk, timestampColumn, createdColumn);
}

async function readJson(req: http.IncomingMessage, limits: HttpLimits): Promise<Record<string, unknown>> {
  const text = await readJsonBody(req, limits);
  let parsed: unknown;
  try {
    // In slices: a body of megabytes must not hold up every other call while it is parsed.
    parsed = await parseJsonInSlices(text);
  } catch (error) {
    throw new RpcError(Code.INVALID_ARGUMENT, `the body is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new RpcError(Code.INVALID_ARGUMENT, 'the body must be a JSON object');
  return parsed as Record<string, unknown>;
}
