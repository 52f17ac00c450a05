import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { checkAuthConfig, followPermissions } from '@larder/auth';
import type { Authorizer } from '@larder/auth';
import { bindHost, Code, ConfigError, createHttpListener, createLogger, loadConfig, RpcError, ServerTls } from '@larder/rpc';
import type { ConfigIssue, HttpListener, Logger } from '@larder/rpc';
import { isObjectKind, MAX_QUERY_CHARS, MAX_SEARCH_RESULTS, NAME_PATTERN } from '../shared/api';
import type { Me } from '../shared/api';
import { RECORD_ID_PATTERN } from '../shared/quality-api';
import { Catalog, viewerOf } from './catalog';
import type { Viewer } from './catalog';
import { ChangeHistory } from './change-history';
import type { UiConfig } from './config';
import { uiConfigSchema } from './config';
import { BadRequest, httpError } from './errors';
import { attention, freshness } from './freshness';
import { lineage, objectDetail, objectDetailCheck, projectDetail, projectSummaries, search } from './registry-pages';
import { WebLogin } from './oidc-login';
import { dataQuality, qualityAttention } from './quality';
import { MIN_SESSION_KEY_BYTES } from './session';
import type { StaticFile } from './static-files';
import { loadStaticFiles } from './static-files';
import { callOptions, connectUpstreams } from './upstreams';
import type { Clients, Upstreams } from './upstreams';

/** Longest URL taken; a page's URL is far shorter. */
const MAX_URL_CHARS = 4096;
const DEFAULT_SEARCH_RESULTS = 50;

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Client paths of the front end's pages; each is answered with index.html. */
const PAGE_ROUTES = [/^\/$/, /^\/search$/, /^\/freshness$/, /^\/lineage(\/[^/]+)?$/, /^\/p\/[^/]+$/, /^\/p\/[^/]+\/[^/]+\/[^/]+$/, /^\/quality\/[^/]+\/[^/]+$/];

export interface UiServer {
  readonly listening: HttpListener;
  readonly history: ChangeHistory;
  /** The registry copy pages are answered from. */
  readonly catalog: Catalog;
  close(): Promise<void>;
}

export interface StartUiOptions {
  /** Environment to read settings from; process.env by default. */
  env?: Readonly<Record<string, string | undefined>>;
  logger?: Logger;
}

const DEFAULT_DIST = path.resolve(__dirname, '..', '..', 'dist');

/** What the UI's own auth settings must satisfy beyond each key's own checks (also checked by the Helm chart's tests). */
export function uiAuthIssues(config: UiConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const modes = config.auth.modes;
  if (modes.includes('mtls'))
    issues.push({ key: 'auth.modes', problem: 'the UI signs people in with oidc; mtls is for services (use none or oidc)', source: 'LARDER_AUTH_MODES' });
  if (modes.includes('none') && config.client.tokenFile !== '') {
    // The copy is read with that token, and with auth off every visitor would see what it may.
    issues.push({
      key: 'auth.modes',
      problem:
        'with client.tokenFile set the UI reads the registry as that identity, so it must sign its users in (auth.modes oidc) to show each only what they may describe; or drop client.tokenFile',
      source: 'LARDER_AUTH_MODES / LARDER_CLIENT_TOKEN_FILE',
    });
  }
  if (modes.includes('oidc')) {
    if (config.ui.oidc.clientId === '') issues.push({ key: 'ui.oidc.clientId', problem: 'required with auth.modes oidc', source: 'LARDER_UI_OIDC_CLIENT_ID' });
    if (!config.ui.oidc.scopes.includes('openid')) issues.push({ key: 'ui.oidc.scopes', problem: 'must include openid', source: 'LARDER_UI_OIDC_SCOPES' });
    if (config.ui.sessionKeyFile === '')
      issues.push({
        key: 'ui.sessionKeyFile',
        problem: `required with auth.modes oidc: a file of at least ${MIN_SESSION_KEY_BYTES} random bytes (e.g. head -c 32 /dev/urandom > key)`,
        source: 'LARDER_UI_SESSION_KEY_FILE',
      });
    if (config.ui.publicUrl !== '' && !/^https?:\/\/[^/]+\/?$/.test(config.ui.publicUrl))
      issues.push({ key: 'ui.publicUrl', problem: 'an http(s) origin like https://larder.example.com', source: 'LARDER_UI_PUBLIC_URL' });
  }
  return issues;
}

/** Loads the configuration, connects to the services and listens; logs the bound address. */
export async function startUiServer(options: StartUiOptions = {}): Promise<UiServer> {
  const config = loadConfig(uiConfigSchema, { env: options.env ?? process.env });
  const log = options.logger ?? createLogger({ service: 'ui', level: config.log.level });
  const issues = uiAuthIssues(config);
  if (issues.length > 0) throw new ConfigError(issues);
  const host = bindHost(config.ui.host, config);
  checkAuthConfig(config.auth, { hosts: [host] }, log);
  const files = loadStaticFiles(config.ui.distDir === '' ? DEFAULT_DIST : path.resolve(config.ui.distDir));
  const tls = ServerTls.fromConfig(config.tls, { logger: log });
  let listening: HttpListener | undefined;
  let login: WebLogin;
  try {
    login = new WebLogin({
      config,
      logger: log,
      publicUrl: () => (config.ui.publicUrl !== '' ? config.ui.publicUrl : (listening?.url ?? 'http://127.0.0.1')),
      secure: tls !== undefined || config.ui.publicUrl.startsWith('https:'),
    });
  } catch (error) {
    tls?.close();
    if (error instanceof ConfigError) throw error;
    throw new ConfigError([{ key: 'ui.sessionKeyFile', problem: (error as Error).message, source: 'LARDER_UI_SESSION_KEY_FILE' }]);
  }
  const upstreams = connectUpstreams(config, log);
  const catalog = new Catalog(upstreams.registry);
  const history = new ChangeHistory(upstreams.registry);
  const authorizer = followPermissions(upstreams.registry, login.enabled);
  try {
    listening = await createHttpListener(
      { host, port: config.ui.port, tls, limits: { headersTimeout: 10_000, requestTimeout: 30_000 } },
      handler({ config, upstreams, catalog, history, authorizer, login, files, log }),
    );
  } catch (error) {
    history.close();
    upstreams.close();
    tls?.close();
    throw error;
  }
  const bound = listening;
  log.info('listening', { http: bound.boundUrl, url: bound.url, registry: config.registry.address, auth: config.auth.modes.join(',') });
  return {
    listening: bound,
    history,
    catalog,
    close: async () => {
      history.close();
      await bound.close('all');
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

/** Answers this large are gzipped when the browser takes it (the search index: 5,000 features ~ 400 kB of JSON). */
const GZIP_FROM_BYTES = 8 * 1024;

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    ...SECURITY_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    vary: 'accept-encoding, cookie, authorization',
    ...extra,
  };
  let payload: string | Buffer = text;
  if (text.length >= GZIP_FROM_BYTES && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    payload = gzipSync(text, { level: 1 });
    headers['content-encoding'] = 'gzip';
  }
  headers['content-length'] = Buffer.byteLength(payload);
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : payload);
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
  if (!NAME_PATTERN.test(value))
    throw new BadRequest(`${field}: "${value.slice(0, 64)}" is not a registry name (letters, digits, '_', '-', '.', at most 128)`, field);
  return value;
}

function queryParam(url: URL, name: string): string | undefined {
  const values = url.searchParams.getAll(name);
  if (values.length > 1) throw new BadRequest(`${name}: given ${values.length} times`, name);
  return values[0];
}

/** One API request: for whom, with which calls, answered from the copy where it can be. */
interface ApiContext {
  viewer: Viewer;
  clients: Clients;
  options: ReturnType<typeof callOptions>;
  user: Me['user'];
}

type Route = (req: IncomingMessage, url: URL, parts: string[], ctx: ApiContext) => Promise<unknown> | undefined;

function apiRoutes(config: UiConfig, catalog: Catalog, history: ChangeHistory): Route {
  return (_req, url, parts, { viewer, clients, options, user }) => {
    const [first, second, third, fourth, ...rest] = parts;
    if (rest.length > 0) return undefined;
    if (first === 'me' && second === undefined) {
      const me: Me = { authMode: config.auth.modes.includes('oidc') ? 'oidc' : 'none', ...(user === undefined ? {} : { user }) };
      return Promise.resolve(me);
    }
    if (first === 'overview' && second === undefined) {
      return (async () => {
        const summaries = projectSummaries(catalog, viewer);
        const [fresh, quality] = await Promise.all([freshness(clients, summaries.objects, options), qualityAttention(clients, summaries.objects, options)]);
        return {
          registryVersion: String(catalog.registryVersion),
          projects: summaries.projects,
          attention: [...attention(fresh), ...quality.items],
          problems: [...fresh.problems, ...quality.problems],
        };
      })();
    }
    if (first === 'freshness' && second === undefined) {
      return freshness(clients, projectSummaries(catalog, viewer).objects, options);
    }
    if (first === 'search-index' && second === undefined) {
      return Promise.resolve(catalog.searchIndex(viewer).index);
    }
    if (first === 'search' && second === undefined) {
      const q = queryParam(url, 'q') ?? '';
      if (q.length > MAX_QUERY_CHARS) throw new BadRequest(`q: at most ${MAX_QUERY_CHARS} characters (got ${q.length})`, 'q');
      const limitText = queryParam(url, 'limit');
      const limit = limitText === undefined ? DEFAULT_SEARCH_RESULTS : Number(limitText);
      if (!/^\d{1,4}$/.test(limitText ?? '1') || !Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_RESULTS) {
        throw new BadRequest(`limit: a whole number from 1 to ${MAX_SEARCH_RESULTS}`, 'limit');
      }
      return Promise.resolve(search(catalog, viewer, q, limit));
    }
    if (first === 'projects' && second !== undefined && fourth === undefined) {
      const project = segment(second, 'project');
      if (third === undefined) return Promise.resolve(projectDetail(catalog, viewer, project));
      if (third === 'lineage') return Promise.resolve(lineage(catalog, viewer, project));
      return undefined;
    }
    if (first === 'quality' && second !== undefined && third !== undefined && fourth === undefined) {
      const record = queryParam(url, 'record');
      if (record !== undefined && !RECORD_ID_PATTERN.test(record))
        throw new BadRequest(`record: "${record.slice(0, 64)}" is not a statistics record id (letters, digits and '-', at most 64)`, 'record');
      const project = segment(second, 'project');
      const view = segment(third, 'view');
      // The view must be one the viewer may describe, as for its object page.
      objectDetailCheck(catalog, viewer, project, view);
      return dataQuality(clients, project, view, record, options);
    }
    if (first === 'objects' && second !== undefined && third !== undefined && fourth !== undefined) {
      if (!isObjectKind(third)) return undefined;
      return objectDetail(catalog, viewer, clients, history, segment(second, 'project'), third, segment(fourth, 'name'), options);
    }
    return undefined;
  };
}

interface HandlerDeps {
  config: UiConfig;
  upstreams: Upstreams;
  catalog: Catalog;
  history: ChangeHistory;
  authorizer: () => Authorizer;
  login: WebLogin;
  files: Map<string, StaticFile>;
  log: Logger;
}

function handler({ config, upstreams, catalog, history, authorizer, login, files, log }: HandlerDeps) {
  const gate = new Gate(config.ui.maxConcurrent);
  const api = apiRoutes(config, catalog, history);
  const index = files.get('/index.html')!;
  return (req: IncomingMessage, res: ServerResponse): void => {
    const rawUrl = req.url ?? '/';
    // Signing out is the one thing sent with POST (a form in the page header); its body is never read.
    const isLogout = req.method === 'POST' && rawUrl === '/auth/logout';
    if (req.method !== 'GET' && req.method !== 'HEAD' && !isLogout) {
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
    if (login.handles(pathname)) {
      login.handle(req, res, url, SECURITY_HEADERS).catch((error: unknown) => {
        log.warn('sign-in route failed', { path: pathname, error: error instanceof Error ? error.message : String(error) });
        if (!res.headersSent) sendJson(req, res, 500, { error: 'the UI server failed; see its log' });
        else res.destroy();
      });
      return;
    }
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
    // With sign-in on, a page asked for without a session goes to the issuer first.
    if (!login.enabled) {
      sendFile(req, res, PAGE_ROUTES.some((r) => r.test(pathname)) ? 200 : 404, index);
      return;
    }
    void login.identify(req).then((who) => {
      if (who.ok || who.status !== 401) sendFile(req, res, PAGE_ROUTES.some((r) => r.test(pathname)) ? 200 : 404, index);
      else {
        res.writeHead(302, {
          ...SECURITY_HEADERS,
          location: `/auth/login?next=${encodeURIComponent(url.pathname + url.search)}`,
          'cache-control': 'no-store',
          'content-length': 0,
        });
        res.end();
      }
    });
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
      const who = await login.identify(req);
      if (!who.ok) {
        sendJson(
          req,
          res,
          who.status,
          { error: who.message, ...(who.status === 401 && { login: '/auth/login' }) },
          who.status === 401 ? { 'www-authenticate': 'Bearer' } : {},
        );
        return;
      }
      if (upstreams.registry.notReadyReason() !== undefined) {
        // Only before the first snapshot (or while the copy cannot follow): wait a little, then say so.
        await upstreams.registry.ready(config.ui.upstreamTimeout).catch(() => undefined);
        const reason = upstreams.registry.notReadyReason();
        if (reason !== undefined) throw new RpcError(Code.UNAVAILABLE, reason);
      }
      const ctx: ApiContext = {
        viewer: viewerOf(who.principal, authorizer),
        clients: upstreams.user,
        options: callOptions(abort.signal, who.authorization),
        user: who.user,
      };
      const answer = api(req, url, parts, ctx);
      if (answer === undefined) {
        sendJson(req, res, 404, { error: `no API route ${url.pathname.slice(0, 200)}` });
        return;
      }
      sendJson(req, res, 200, await answer);
    } catch (error) {
      if (abort.signal.aborted) return;
      const { status, body } = httpError(error);
      if (status >= 500)
        log.warn('api call failed', { path: url.pathname.slice(0, 200), status, error: error instanceof Error ? error.message : String(error) });
      sendJson(req, res, status, body);
    } finally {
      res.off('close', onClose);
      gate.leave();
      log.debug('api', { path: url.pathname.slice(0, 200), ms: Math.round(performance.now() - started) });
    }
  }
}
