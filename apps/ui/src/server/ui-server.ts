import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { bindHost, createHttpListener, createLogger, loadConfig, ServerTls } from '@larder/rpc';
import type { HttpListener, Logger } from '@larder/rpc';
import { isObjectKind, MAX_QUERY_CHARS, MAX_SEARCH_RESULTS, NAME_PATTERN } from '../shared/api';
import { RECORD_ID_PATTERN } from '../shared/quality-api';
import { ChangeHistory } from './change-history';
import type { UiConfig } from './config';
import { uiConfigSchema } from './config';
import { BadRequest, httpError } from './errors';
import { attention, freshness } from './freshness';
import { dataQuality, qualityAttention } from './quality';
import { lineage, objectDetail, projectDetail, projectSummaries, search } from './registry-pages';
import type { StaticFile } from './static-files';
import { loadStaticFiles } from './static-files';
import { connectUpstreams, forRequest } from './upstreams';
import type { Upstreams } from './upstreams';

/** Longest URL taken; a page's URL is far shorter. */
const MAX_URL_CHARS = 4096;
const DEFAULT_SEARCH_RESULTS = 50;

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Client paths of the front end's pages; each is answered with index.html. */
const PAGE_ROUTES = [/^\/$/, /^\/search$/, /^\/freshness$/, /^\/lineage(\/[^/]+)?$/, /^\/p\/[^/]+$/, /^\/p\/[^/]+\/[^/]+\/[^/]+$/, /^\/quality\/[^/]+\/[^/]+$/];

export interface UiServer {
  readonly listening: HttpListener;
  readonly history: ChangeHistory;
  close(): Promise<void>;
}

export interface StartUiOptions {
  /** Environment to read settings from; process.env by default. */
  env?: Readonly<Record<string, string | undefined>>;
  logger?: Logger;
}

const DEFAULT_DIST = path.resolve(__dirname, '..', '..', 'dist');

/** Loads the configuration, connects to the services and listens; logs the bound address. */
export async function startUiServer(options: StartUiOptions = {}): Promise<UiServer> {
  const config = loadConfig(uiConfigSchema, { env: options.env ?? process.env });
  const log = options.logger ?? createLogger({ service: 'ui', level: config.log.level });
  const files = loadStaticFiles(config.ui.distDir === '' ? DEFAULT_DIST : path.resolve(config.ui.distDir));
  const tls = ServerTls.fromConfig(config.tls, { logger: log });
  const upstreams = connectUpstreams(config, log);
  const history = new ChangeHistory(upstreams, log);
  history.start();
  let listening: HttpListener;
  try {
    listening = await createHttpListener(
      { host: bindHost(config.ui.host, config), port: config.ui.port, tls, limits: { headersTimeout: 10_000, requestTimeout: 30_000 } },
      handler(config, upstreams, history, files, log),
    );
  } catch (error) {
    history.close();
    upstreams.close();
    tls?.close();
    throw error;
  }
  log.info('listening', { http: listening.boundUrl, url: listening.url, registry: config.registry.address });
  return {
    listening,
    history,
    close: async () => {
      history.close();
      await listening.close('all');
      upstreams.close();
      tls?.close();
    },
  };
}

/** Admission: at most `max` requests answered at once, as many waiting, the rest 503. */
class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}
  async enter(): Promise<boolean> {
    if (this.active < this.max) {
      this.active++;
      return true;
    }
    if (this.waiting.length >= this.max) return false;
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    return true;
  }
  leave(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.active--;
  }
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(req.method === 'HEAD' ? undefined : text);
}

function sendFile(req: IncomingMessage, res: ServerResponse, status: number, file: StaticFile): void {
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const body = gzip ? file.gzip : file.body;
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': file.type,
    'cache-control': file.cacheControl,
    'content-length': body.length,
    vary: 'accept-encoding',
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function segment(raw: string, field: string): string {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    throw new BadRequest(`${field}: not a valid percent-encoded path segment`, field);
  }
  if (!NAME_PATTERN.test(value)) throw new BadRequest(`${field}: "${value.slice(0, 64)}" is not a registry name (letters, digits, '_', '-', '.', at most 128)`, field);
  return value;
}

function queryParam(url: URL, name: string): string | undefined {
  const values = url.searchParams.getAll(name);
  if (values.length > 1) throw new BadRequest(`${name}: given ${values.length} times`, name);
  return values[0];
}

type Route = (req: IncomingMessage, url: URL, parts: string[], signal: AbortSignal) => Promise<unknown> | undefined;

function apiRoutes(upstreams: Upstreams, history: ChangeHistory): Route {
  return (req, url, parts, signal) => {
    const { clients, options } = forRequest(upstreams, req, signal);
    const [first, second, third, fourth, ...rest] = parts;
    if (rest.length > 0) return undefined;
    if (first === 'overview' && second === undefined) {
      return (async () => {
        const summaries = await projectSummaries(clients, options);
        const [fresh, quality] = await Promise.all([freshness(clients, summaries.objects, options), qualityAttention(clients, summaries.objects, options)]);
        return { registryVersion: String(summaries.version), projects: summaries.projects, attention: [...attention(fresh), ...quality.items], problems: [...fresh.problems, ...quality.problems] };
      })();
    }
    if (first === 'freshness' && second === undefined) {
      return (async () => {
        const { projects } = await clients.registry.listProjects({}, options);
        const views = new Map(await Promise.all(projects.map(async (p) => [p.name, { featureViews: (await clients.registry.listFeatureViews({ project: p.name }, options)).featureViews }] as const)));
        return freshness(clients, views, options);
      })();
    }
    if (first === 'search' && second === undefined) {
      const q = queryParam(url, 'q') ?? '';
      if (q.length > MAX_QUERY_CHARS) throw new BadRequest(`q: at most ${MAX_QUERY_CHARS} characters (got ${q.length})`, 'q');
      const limitText = queryParam(url, 'limit');
      const limit = limitText === undefined ? DEFAULT_SEARCH_RESULTS : Number(limitText);
      if (!/^\d{1,4}$/.test(limitText ?? '1') || !Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_RESULTS) {
        throw new BadRequest(`limit: a whole number from 1 to ${MAX_SEARCH_RESULTS}`, 'limit');
      }
      return search(clients, q, limit, options);
    }
    if (first === 'projects' && second !== undefined && fourth === undefined) {
      const project = segment(second, 'project');
      if (third === undefined) return projectDetail(clients, project, options);
      if (third === 'lineage') return lineage(clients, project, options);
      return undefined;
    }
    if (first === 'quality' && second !== undefined && third !== undefined && fourth === undefined) {
      const record = queryParam(url, 'record');
      if (record !== undefined && !RECORD_ID_PATTERN.test(record)) throw new BadRequest(`record: "${record.slice(0, 64)}" is not a statistics record id (letters, digits and '-', at most 64)`, 'record');
      return dataQuality(clients, segment(second, 'project'), segment(third, 'view'), record, options);
    }
    if (first === 'objects' && second !== undefined && third !== undefined && fourth !== undefined) {
      if (!isObjectKind(third)) return undefined;
      return objectDetail(clients, history, segment(second, 'project'), third, segment(fourth, 'name'), options);
    }
    return undefined;
  };
}

function handler(config: UiConfig, upstreams: Upstreams, history: ChangeHistory, files: Map<string, StaticFile>, log: Logger) {
  const gate = new Gate(config.ui.maxConcurrent);
  const api = apiRoutes(upstreams, history);
  const index = files.get('/index.html')!;
  return (req: IncomingMessage, res: ServerResponse): void => {
    const rawUrl = req.url ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // Nothing here takes a body: whatever was sent is left unread and the connection closed.
      res.setHeader('connection', 'close');
      res.setHeader('allow', 'GET, HEAD');
      sendJson(req, res, 405, { error: `${req.method ?? 'this method'} is not allowed: the UI is read-only (GET, HEAD)` });
      return;
    }
    if (rawUrl.length > MAX_URL_CHARS) {
      sendJson(req, res, 414, { error: `the URL is longer than ${MAX_URL_CHARS} characters` });
      return;
    }
    // The Host header is never used: URLs are parsed against a fixed base.
    let url: URL;
    try {
      url = new URL(rawUrl, 'http://ui.invalid');
    } catch {
      sendJson(req, res, 400, { error: 'the URL cannot be parsed' });
      return;
    }
    const pathname = url.pathname;
    if (pathname === '/api' || pathname.startsWith('/api/')) {
      void answerApi(req, res, url, pathname.slice('/api/'.length).split('/'));
      return;
    }
    const file = files.get(pathname);
    if (file !== undefined && pathname !== '/index.html') {
      sendFile(req, res, 200, file);
      return;
    }
    if (pathname.startsWith('/assets/')) {
      sendJson(req, res, 404, { error: `no file ${pathname.slice(0, 200)}` });
      return;
    }
    // The front end routes its own pages; one it does not know renders its 404 page.
    sendFile(req, res, PAGE_ROUTES.some((r) => r.test(pathname)) ? 200 : 404, index);
  };

  async function answerApi(req: IncomingMessage, res: ServerResponse, url: URL, parts: string[]): Promise<void> {
    if (!(await gate.enter())) {
      sendJson(req, res, 503, { error: 'the UI server is busy; try again' });
      return;
    }
    // A browser that leaves (a new keystroke, a closed tab) cancels the gRPC calls it caused.
    const abort = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) abort.abort();
    };
    res.on('close', onClose);
    const started = performance.now();
    try {
      const answer = api(req, url, parts, abort.signal);
      if (answer === undefined) {
        sendJson(req, res, 404, { error: `no API route ${url.pathname.slice(0, 200)}` });
        return;
      }
      sendJson(req, res, 200, await answer);
    } catch (error) {
      if (abort.signal.aborted) return;
      const { status, body } = httpError(error);
      if (status >= 500) log.warn('api call failed', { path: url.pathname.slice(0, 200), status, error: error instanceof Error ? error.message : String(error) });
      sendJson(req, res, status, body);
    } finally {
      res.off('close', onClose);
      gate.leave();
      log.debug('api', { path: url.pathname.slice(0, 200), ms: Math.round(performance.now() - started) });
    }
  }
}
