import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { decodeJwt } from 'jose';
import { ANONYMOUS_OPERATOR, createAuthenticator } from '@larder/auth';
import type { Authenticator, Principal } from '@larder/auth';
import { Code, RpcError } from '@larder/rpc';
import type { Logger } from '@larder/rpc';
import type { UiConfig } from './config';
import { cookieOf, CookieSealer, setCookie } from './session';
import { bearerOf } from './upstreams';

/** How long a login may take between leaving for the issuer and coming back. */
const LOGIN_TTL_MS = 10 * 60 * 1000;
/** Discovery documents are fetched again after this. */
const DISCOVERY_MAX_AGE_MS = 10 * 60 * 1000;
/** Largest discovery or token response read. */
const MAX_RESPONSE_BYTES = 64 * 1024;
const MAX_NEXT_CHARS = 2048;
const MAX_CALLBACK_PARAM_CHARS = 4096;

const SESSION = 'session';
const LOGIN = 'login';

/** Who a request is for, or why it is refused (401: sign in; 503: the issuer's keys cannot be had). */
export type Identity =
  | { ok: true; principal: Principal; authorization: string | undefined; user: { id: string; name: string } | undefined }
  | { ok: false; status: 401 | 503; message: string; expired: boolean };

interface LoginState {
  state: string;
  nonce: string;
  verifier: string;
  next: string;
  exp: number;
}

interface SessionState {
  token: string;
  name: string;
  exp: number;
}

interface Discovery {
  authorizationEndpoint: string;
  tokenEndpoint: string;
  fetchedAt: number;
}

const b64 = (bytes: Buffer): string => bytes.toString('base64url');

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Only a path of this site is a place to come back to: never another host (`//evil`, `/\evil`). */
export function safeNext(next: string | null): string {
  if (next === null || next.length > MAX_NEXT_CHARS || !next.startsWith('/') || next.startsWith('//')) return '/';
  // Backslashes (read as slashes by browsers), control characters (header splitting) and
  // anything outside printable ASCII (not allowed in a Location header) never pass.
  for (let i = 0; i < next.length; i++) {
    const c = next.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || next[i] === '\\') return '/';
  }
  return next;
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A small page the server writes itself (no script, so the strict CSP holds). */
function sendHtml(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | string[]>,
  title: string,
  message: string,
  link: { href: string; text: string },
): void {
  const body =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} - ` +
    `Larder</title></head><body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p><p><a ` +
    `href="${escapeHtml(link.href)}">${escapeHtml(link.text)}</a></p></main></body></html>`;
  res.writeHead(status, { ...headers, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** A bounded HTTP(S) exchange with the issuer (a URL from its discovery document, never from a browser). */
function issuerRequest(
  url: string,
  options: { method: 'GET' | 'POST'; form?: URLSearchParams; basic?: string | undefined; timeoutMs: number; ca: Buffer | undefined },
): Promise<{ status: number; body: unknown }> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : target.protocol === 'http:' ? httpRequest : undefined;
  if (send === undefined) return Promise.reject(new Error(`unsupported URL scheme ${target.protocol}`));
  const payload = options.form?.toString();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (payload !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    if (options.basic !== undefined) headers.authorization = `Basic ${options.basic}`;
    const req = send(
      target,
      { method: options.method, headers, timeout: options.timeoutMs, ...(options.ca !== undefined && target.protocol === 'https:' && { ca: options.ca }) },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error(`${url}: response larger than ${MAX_RESPONSE_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export interface WebLoginOptions {
  config: UiConfig;
  logger: Logger;
  /** The address browsers reach the UI at (ui.publicUrl, else the listener's). */
  publicUrl: () => string;
  /** The UI speaks TLS (or sits behind a proxy that does): cookies get Secure. */
  secure: boolean;
}

/**
 * Sign-in with the OIDC issuer the services trust: the authorization code flow with
 * PKCE (S256), state and nonce checked, the code exchanged at the token endpoint, the
 * ID token and the access token verified by @larder/auth's authenticator. The session
 * is the access token, sealed (AES-GCM, ui.sessionKeyFile) in an HttpOnly, SameSite=Lax
 * cookie that lives as long as the token; the token is what the UI forwards to the
 * services, so they see the same user. When it expires the user signs in again.
 */
export class WebLogin {
  readonly enabled: boolean;
  private readonly authenticator: Authenticator | undefined;
  private readonly idTokens: Authenticator | undefined;
  private readonly sealer: CookieSealer | undefined;
  private readonly ca: Buffer | undefined;
  private discovery: Discovery | undefined;
  private readonly sessionCookie: string;
  private readonly loginCookie: string;

  constructor(private readonly options: WebLoginOptions) {
    const { config, logger } = options;
    this.enabled = config.auth.modes.includes('oidc');
    // Cookies named __Host- are kept by browsers only when Secure, for this host and path /.
    this.sessionCookie = options.secure ? '__Host-larder_session' : 'larder_session';
    this.loginCookie = options.secure ? '__Secure-larder_login' : 'larder_login';
    if (!this.enabled) return;
    this.authenticator = createAuthenticator(config.auth, logger);
    this.idTokens = createAuthenticator({ ...config.auth, oidc: { ...config.auth.oidc, audiences: [config.ui.oidc.clientId] }, operators: [] }, logger);
    this.sealer = CookieSealer.fromFile(config.ui.sessionKeyFile);
    this.ca = config.auth.oidc.caFile === '' ? undefined : readFileSync(config.auth.oidc.caFile);
    void this.authenticator.prefetch();
  }

  /** Whether `pathname` is one of the login routes. */
  handles(pathname: string): boolean {
    return pathname === '/auth/login' || pathname === '/auth/callback' || pathname === '/auth/logout' || pathname === '/auth/signed-out';
  }

  /** Who the request is for. With auth off, everyone is the anonymous operator and a bearer header is forwarded as before. */
  async identify(req: IncomingMessage): Promise<Identity> {
    const bearer = bearerOf(req);
    if (!this.enabled) return { ok: true, principal: ANONYMOUS_OPERATOR, authorization: bearer, user: undefined };
    let authorization = bearer;
    let name: string | undefined;
    if (authorization === undefined) {
      const session = this.sealer!.open(SESSION, cookieOf(req, this.sessionCookie)) as SessionState | undefined;
      if (session === undefined || typeof session.token !== 'string' || typeof session.exp !== 'number')
        return { ok: false, status: 401, message: 'sign in to see the registry', expired: false };
      if (Date.now() >= session.exp) return { ok: false, status: 401, message: 'your session has expired; sign in again', expired: true };
      authorization = `Bearer ${session.token}`;
      name = typeof session.name === 'string' ? session.name : undefined;
    }
    try {
      const principal = await this.authenticator!.authenticate({ authorization });
      return { ok: true, principal, authorization, user: { id: principal.id, name: name ?? principal.subject } };
    } catch (error) {
      const e = RpcError.from(error);
      if (e.code === Code.UNAVAILABLE) return { ok: false, status: 503, message: `cannot verify sign-ins now: ${e.message}`, expired: false };
      return {
        ok: false,
        status: 401,
        message: e.message === 'token expired' ? 'your session has expired; sign in again' : `sign in again (${e.message})`,
        expired: e.message === 'token expired',
      };
    }
  }

  /** Answers a login route. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, headers: Record<string, string>): Promise<void> {
    const path = url.pathname;
    if (path === '/auth/signed-out') {
      sendHtml(res, 200, headers, 'Signed out', 'You are signed out of the Larder UI.', { href: '/auth/login', text: 'Sign in again' });
      return;
    }
    if (path === '/auth/logout') {
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        sendHtml(res, 405, headers, 'Sign out', 'Sign out with the button in the page header.', { href: '/', text: 'Back to the registry' });
        return;
      }
      res.writeHead(303, {
        ...headers,
        location: '/auth/signed-out',
        'set-cookie': setCookie(this.sessionCookie, '', { path: '/', maxAge: 0, secure: this.options.secure }),
        'content-length': 0,
        connection: 'close',
      });
      res.end();
      return;
    }
    if (!this.enabled) {
      sendHtml(res, 404, headers, 'No sign-in', 'This Larder UI runs without authentication (auth.modes none): there is nothing to sign in to.', {
        href: '/',
        text: 'Back to the registry',
      });
      return;
    }
    if (path === '/auth/login') return this.login(res, url, headers);
    return this.callback(req, res, url, headers);
  }

  private redirectUri(): string {
    return new URL('/auth/callback', this.options.publicUrl()).toString();
  }

  private async endpoints(): Promise<Discovery> {
    const now = Date.now();
    if (this.discovery !== undefined && now - this.discovery.fetchedAt < DISCOVERY_MAX_AGE_MS) return this.discovery;
    const issuer = this.options.config.auth.oidc.issuer;
    const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const { status, body } = await issuerRequest(url, { method: 'GET', timeoutMs: this.options.config.auth.oidc.fetchTimeout, ca: this.ca });
    const doc = body as { issuer?: unknown; authorization_endpoint?: unknown; token_endpoint?: unknown } | undefined;
    if (status !== 200 || doc === undefined) throw new Error(`${url} answered HTTP ${status}`);
    if (doc.issuer !== issuer) throw new Error(`${url} names issuer ${JSON.stringify(doc.issuer)}, not ${issuer}`);
    const endpoint = (value: unknown, name: string): string => {
      let parsed: URL;
      try {
        parsed = new URL(String(value));
      } catch {
        throw new Error(`${url} has no valid ${name}`);
      }
      // Never a downgrade: an https issuer's endpoints are https too.
      if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && issuer.startsWith('http:'))) throw new Error(`${url}: ${name} must be https`);
      return parsed.toString();
    };
    this.discovery = {
      authorizationEndpoint: endpoint(doc.authorization_endpoint, 'authorization_endpoint'),
      tokenEndpoint: endpoint(doc.token_endpoint, 'token_endpoint'),
      fetchedAt: now,
    };
    return this.discovery;
  }

  private async login(res: ServerResponse, url: URL, headers: Record<string, string>): Promise<void> {
    let discovery: Discovery;
    try {
      discovery = await this.endpoints();
    } catch (error) {
      this.options.logger.warn('OIDC discovery failed', { error: (error as Error).message });
      sendHtml(res, 503, headers, 'Sign-in unavailable', 'The identity provider cannot be reached; try again shortly.', {
        href: url.pathname + url.search,
        text: 'Try again',
      });
      return;
    }
    const verifier = b64(randomBytes(32));
    const login: LoginState = {
      state: b64(randomBytes(24)),
      nonce: b64(randomBytes(24)),
      verifier,
      next: safeNext(url.searchParams.get('next')),
      exp: Date.now() + LOGIN_TTL_MS,
    };
    const target = new URL(discovery.authorizationEndpoint);
    const oidc = this.options.config.ui.oidc;
    target.searchParams.set('response_type', 'code');
    target.searchParams.set('client_id', oidc.clientId);
    target.searchParams.set('redirect_uri', this.redirectUri());
    target.searchParams.set('scope', oidc.scopes.join(' '));
    target.searchParams.set('state', login.state);
    target.searchParams.set('nonce', login.nonce);
    target.searchParams.set('code_challenge', b64(createHash('sha256').update(verifier).digest()));
    target.searchParams.set('code_challenge_method', 'S256');
    res.writeHead(302, {
      ...headers,
      location: target.toString(),
      'cache-control': 'no-store',
      'set-cookie': setCookie(this.loginCookie, this.sealer!.seal(LOGIN, login), { path: '/auth', maxAge: LOGIN_TTL_MS / 1000, secure: this.options.secure }),
      'content-length': 0,
    });
    res.end();
  }

  private async callback(req: IncomingMessage, res: ServerResponse, url: URL, headers: Record<string, string>): Promise<void> {
    const clearLogin = setCookie(this.loginCookie, '', { path: '/auth', maxAge: 0, secure: this.options.secure });
    const refuse = (status: number, message: string): void => {
      sendHtml(res, status, { ...headers, 'set-cookie': clearLogin }, 'Sign-in failed', message, { href: '/auth/login', text: 'Sign in again' });
    };
    const param = (name: string): string | undefined => {
      const values = url.searchParams.getAll(name);
      return values.length === 1 && values[0]!.length <= MAX_CALLBACK_PARAM_CHARS ? values[0] : undefined;
    };
    const login = this.sealer!.open(LOGIN, cookieOf(req, this.loginCookie)) as LoginState | undefined;
    if (login === undefined || typeof login.state !== 'string' || typeof login.exp !== 'number') {
      refuse(400, 'This sign-in was not started here, or this browser dropped its cookie. Start again.');
      return;
    }
    if (Date.now() > login.exp) {
      refuse(400, 'This sign-in took too long. Start again.');
      return;
    }
    const state = param('state');
    if (state === undefined || !sameText(state, login.state)) {
      refuse(400, 'The sign-in answer does not belong to this sign-in (state mismatch). Start again.');
      return;
    }
    const issuerError = param('error');
    if (issuerError !== undefined) {
      refuse(403, `The identity provider refused the sign-in: ${issuerError.slice(0, 200)}`);
      return;
    }
    const code = param('code');
    if (code === undefined || code === '') {
      refuse(400, 'The sign-in answer carries no code.');
      return;
    }
    let tokens: { accessToken: string; idToken: string };
    try {
      tokens = await this.exchange(code, login.verifier);
    } catch (error) {
      this.options.logger.warn('OIDC code exchange failed', { error: (error as Error).message });
      refuse(502, 'The identity provider did not accept the sign-in code. Start again.');
      return;
    }
    let name: string;
    let exp: number;
    try {
      const id = await this.idTokens!.authenticate({ authorization: `Bearer ${tokens.idToken}` });
      const claims = decodeJwt(tokens.idToken);
      if (typeof claims.nonce !== 'string' || !sameText(claims.nonce, login.nonce))
        throw new RpcError(Code.UNAUTHENTICATED, 'ID token nonce does not match this sign-in');
      const access = await this.authenticator!.authenticate({ authorization: `Bearer ${tokens.accessToken}` });
      if (access.subject !== id.subject) throw new RpcError(Code.UNAUTHENTICATED, 'the access token and the ID token name different users');
      const shown = [claims.name, claims.preferred_username, claims.email].find((c): c is string => typeof c === 'string' && c !== '') ?? id.subject;
      name = shown.slice(0, 200);
      exp = (decodeJwt(tokens.accessToken).exp ?? 0) * 1000;
    } catch (error) {
      refuse(401, `The sign-in tokens were refused: ${RpcError.from(error).message}`);
      return;
    }
    const session: SessionState = { token: tokens.accessToken, name, exp };
    res.writeHead(302, {
      ...headers,
      location: login.next,
      'cache-control': 'no-store',
      'set-cookie': [
        clearLogin,
        setCookie(this.sessionCookie, this.sealer!.seal(SESSION, session), { path: '/', maxAge: (exp - Date.now()) / 1000, secure: this.options.secure }),
      ],
      'content-length': 0,
    });
    res.end();
  }

  private async exchange(code: string, verifier: string): Promise<{ accessToken: string; idToken: string }> {
    const { tokenEndpoint } = await this.endpoints();
    const oidc = this.options.config.ui.oidc;
    const form = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.redirectUri(),
      client_id: oidc.clientId,
      code_verifier: verifier,
    });
    const secret = oidc.clientSecretFile === '' ? undefined : readFileSync(oidc.clientSecretFile, 'utf8').trim();
    const basic = secret === undefined ? undefined : Buffer.from(`${encodeURIComponent(oidc.clientId)}:${encodeURIComponent(secret)}`).toString('base64');
    const { status, body } = await issuerRequest(tokenEndpoint, {
      method: 'POST',
      form,
      basic,
      timeoutMs: this.options.config.auth.oidc.fetchTimeout,
      ca: this.ca,
    });
    const answer = body as { access_token?: unknown; id_token?: unknown; error?: unknown } | undefined;
    if (status !== 200 || answer === undefined)
      throw new Error(`token endpoint answered HTTP ${status}${typeof answer?.error === 'string' ? ` (${answer.error.slice(0, 100)})` : ''}`);
    if (typeof answer.access_token !== 'string' || typeof answer.id_token !== 'string')
      throw new Error('token endpoint answered without access_token and id_token');
    return { accessToken: answer.access_token, idToken: answer.id_token };
  }
}
