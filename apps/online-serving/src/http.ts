import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseJsonInSlices } from '@larder/core';
import type { FeatureRequest } from '@larder/core';
import { Code, codeName, createHttpListener, discardRefusedBody, HttpBodyError, readJsonBody, RpcError } from '@larder/rpc';
import type { ErrorMappings, HttpLimits, Logger, ServerTls } from '@larder/rpc';
import type { Principal } from '@larder/auth';
import { columnsFromJson, responseToFeastJsonText, responseToJson } from './json';
import type { OnlineServing } from './online-serving';

/** The caller of a request, or undefined once the refusal (401) has been answered. */
export type CallerOf = (req: IncomingMessage, res: ServerResponse) => Promise<Principal | undefined>;

const HTTP_STATUS: Partial<Record<Code, number>> = {
  [Code.INVALID_ARGUMENT]: 400,
  [Code.FAILED_PRECONDITION]: 400,
  [Code.OUT_OF_RANGE]: 400,
  [Code.PERMISSION_DENIED]: 403,
  [Code.NOT_FOUND]: 404,
  [Code.UNAVAILABLE]: 503,
  [Code.DEADLINE_EXCEEDED]: 504,
  [Code.RESOURCE_EXHAUSTED]: 429,
  [Code.UNIMPLEMENTED]: 501,
};

/** How the gateway writes numbers: ours (`0.1`, `1`, int64 past 2^53 as a string) or exactly as Feast's server does. */
export type JsonFormat = 'larder' | 'feast';
export const JSON_FORMATS: readonly JsonFormat[] = ['larder', 'feast'];

export interface HttpGateway {
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
 * Feast's feature-server endpoint on its own port: POST /get-online-features with
 * `{"features": [...] | "feature_service": "...", "entities": {...}, "full_feature_names": bool,
 * "request_context"?: {...}, "project"?: "..."}`, answered in Feast's JSON shape. Errors are
 * `{"code": "INVALID_ARGUMENT", "message": "..."}` with a 4xx/5xx status.
 */
export async function startHttpGateway(
  serving: OnlineServing,
  options: {
    host: string;
    port: number;
    logger: Logger;
    limits: HttpLimits;
    principal?: CallerOf;
    tls?: ServerTls | undefined;
    jsonFormat?: JsonFormat;
    errorMappings?: ErrorMappings;
  },
): Promise<HttpGateway> {
  const jsonFormat = options.jsonFormat ?? 'larder';
  const listener = await createHttpListener({ host: options.host, port: options.port, tls: options.tls, limits: options.limits }, (req, res) => {
    handle(serving, req, res, options.limits, jsonFormat, options.principal).catch((error: unknown) => {
      if (error instanceof HttpBodyError) {
        discardRefusedBody(req, res, error);
        send(res, error.status, { code: error.code, message: error.message });
        return;
      }
      const rpc = RpcError.from(error, undefined, options.errorMappings);
      if (rpc.code === Code.INTERNAL) options.logger.error('http request failed', { error, path: req.url });
      send(res, HTTP_STATUS[rpc.code] ?? 500, { code: codeName(rpc.code), message: rpc.message });
    });
  });
  const { bound, port, url, boundUrl } = listener;
  return { port, bound, url, boundUrl, close: () => listener.close('idle') };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** `?format=feast|larder` overrides the configured format for one request. */
function requestedFormat(query: string | undefined, configured: JsonFormat): JsonFormat {
  if (query === undefined) return configured;
  const format = new URLSearchParams(query).get('format');
  if (format === null) return configured;
  if (!(JSON_FORMATS as readonly string[]).includes(format)) {
    throw new RpcError(Code.INVALID_ARGUMENT, `format: expected ${JSON_FORMATS.join(' or ')} but got ${JSON.stringify(format.slice(0, 40))}`);
  }
  return format as JsonFormat;
}

async function handle(
  serving: OnlineServing,
  req: IncomingMessage,
  res: ServerResponse,
  limits: HttpLimits,
  configured: JsonFormat,
  callerOf?: CallerOf,
): Promise<void> {
  const [path, query] = (req.url ?? '/').split('?', 2);
  if (path === '/health' && req.method === 'GET') {
    send(res, 200, { status: 'ok' });
    return;
  }
  if (path !== '/get-online-features') {
    send(res, 404, { code: 'NOT_FOUND', message: `no such endpoint ${req.method} ${path}; use POST /get-online-features` });
    return;
  }
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    send(res, 405, { code: 'INVALID_ARGUMENT', message: 'use POST for /get-online-features' });
    return;
  }
  // Who asks, before the body is read: a refused caller costs no parsing.
  const principal = callerOf === undefined ? undefined : await callerOf(req, res);
  if (callerOf !== undefined && principal === undefined) return;
  const format = requestedFormat(query, configured);
  const text = await readJsonBody(req, limits);
  let body: unknown;
  try {
    // Lossless: a join key beyond 2^53 sent as a JSON number must read its own entity, not a rounded neighbour's.
    // In slices: a body of megabytes must not hold up every other call while it is parsed.
    body = await parseJsonInSlices(text);
  } catch (error) {
    throw new RpcError(Code.INVALID_ARGUMENT, `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RpcError(Code.INVALID_ARGUMENT, 'the body must be a JSON object');
  const fields = body as Record<string, unknown>;
  const features = featureRequest(fields);
  const fullFeatureNames = fields['full_feature_names'] ?? false;
  if (typeof fullFeatureNames !== 'boolean') throw new RpcError(Code.INVALID_ARGUMENT, 'full_feature_names: expected true or false');
  const project = fields['project'] ?? '';
  if (typeof project !== 'string') throw new RpcError(Code.INVALID_ARGUMENT, 'project: expected a string');

  const plan = serving.plan({ project, features, fullFeatureNames }, principal);
  const typed = [...plan.resolved.entityColumns, ...plan.resolved.requestFields];
  const entities = columnsFromJson('entities', fields['entities'], typed);
  const requestContext = columnsFromJson('request_context', fields['request_context'], plan.resolved.requestFields);
  const response = await serving.get(plan, entities, requestContext);
  if (format === 'feast') sendText(res, 200, responseToFeastJsonText(response));
  else send(res, 200, responseToJson(response));
}

function featureRequest(fields: Record<string, unknown>): FeatureRequest | undefined {
  const service = fields['feature_service'];
  const refs = fields['features'];
  if (service !== undefined && service !== null) {
    if (typeof service !== 'string' || service === '') throw new RpcError(Code.INVALID_ARGUMENT, 'feature_service: expected a feature service name');
    if (Array.isArray(refs) && refs.length > 0) throw new RpcError(Code.INVALID_ARGUMENT, 'give either features or feature_service, not both');
    return { featureService: service };
  }
  if (refs === undefined || refs === null) return undefined;
  if (!Array.isArray(refs) || refs.some((r) => typeof r !== 'string'))
    throw new RpcError(Code.INVALID_ARGUMENT, 'features: expected a list of "view:feature" strings');
  return { refs: refs as string[] };
}
