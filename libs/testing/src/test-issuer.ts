import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import type { JWK, JWTPayload, KeyLike } from 'jose';

/** How the JWKS endpoint answers: normally, with HTTP 503, or never (the connection hangs). */
export type JwksBehaviour = 'ok' | 'error' | 'hang';

export interface TokenOptions {
  readonly sub?: string;
  /** One audience or several; default the issuer's default audience. */
  readonly aud?: string | readonly string[];
  readonly groups?: readonly string[];
  /** Any further claims. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** 'none' makes an unsigned token; 'HS256' signs with `hmacSecret` (default: the current key's public PEM: algorithm confusion). */
  readonly alg?: 'RS256' | 'ES256' | 'none' | 'HS256';
  /** The kid header; default the signing key's. */
  readonly kid?: string;
  /** Sign with this key (published or retired) instead of the current one. */
  readonly keyId?: string;
  /** Sign with a key that is not in the JWKS (its kid header is still a plausible new one). */
  readonly unpublishedKey?: boolean;
  /** Seconds from `now` until exp; default 300. Negative for an expired token. */
  readonly expiresIn?: number;
  /** Seconds from `now` until nbf; omitted = no nbf. */
  readonly notBefore?: number;
  /** Override the iss claim. */
  readonly issuer?: string;
  /** Leave exp out. */
  readonly noExpiry?: boolean;
  readonly hmacSecret?: string | Buffer;
  /** "Now" in ms since the epoch; default Date.now(). */
  readonly now?: number;
}

/** The person the authorization endpoint signs in without asking (a test's configured user). */
export interface TestLoginUser {
  readonly sub: string;
  readonly groups?: readonly string[];
  /** The ID token's `name` claim. */
  readonly name?: string;
}

/** A client the authorization and token endpoints accept (the UI). */
export interface TestClient {
  readonly clientId: string;
  /** The one redirect URI allowed, compared exactly. */
  readonly redirectUri: string;
  /** A confidential client's secret (HTTP Basic at the token endpoint); absent for a public client. */
  readonly secret?: string;
}

interface PendingCode {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly challenge: string;
  readonly nonce: string | undefined;
  readonly user: TestLoginUser;
  readonly expiresAt: number;
}

interface SigningKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256';
  readonly privateKey: KeyLike;
  readonly publicJwk: JWK;
  readonly publicPem: string;
}

/**
 * An OIDC issuer for tests, over real HTTP on a free loopback port: serves
 * `/.well-known/openid-configuration` and `/jwks`, signs tokens with its current key, rotates
 * keys (add a new one, later retire the old), and makes the bad tokens tests need (expired, not
 * yet valid, unpublished key, `alg: none`, HS256 keyed with the public key).
 */
export class TestIssuer {
  /** JWKS requests served (answered or not), to see caching and cooldowns. */
  jwksRequests = 0;
  discoveryRequests = 0;
  jwksBehaviour: JwksBehaviour = 'ok';
  /**
   * Signed in by `/authorize` without a login form (auto-approve); undefined answers
   * `error=access_denied`, as when a person declines.
   */
  loginUser: TestLoginUser | undefined;
  /** Seconds an access token from `/token` is valid. */
  accessTokenLifetime = 300;
  authorizeRequests = 0;
  tokenRequests = 0;
  private readonly clients = new Map<string, TestClient>();
  private readonly codes = new Map<string, PendingCode>();
  private readonly published: SigningKey[] = [];
  /** Every key ever made here, retired ones included: tests sign with a retired key to see it refused. */
  private readonly made: SigningKey[] = [];
  private current!: SigningKey;
  private readonly hanging = new Set<ServerResponse>();
  /** One key per algorithm that is never published, made on first use (RSA key generation is slow). */
  private readonly unpublished = new Map<string, SigningKey>();

  private constructor(
    private readonly server: Server,
    /** The `iss` value and the discovery base, e.g. http://127.0.0.1:41234 */
    readonly issuer: string,
    readonly defaultAudience: string,
  ) {}

  /** `tls`: serve HTTPS with this certificate (e.g. @larder/testing's certificates.server), as a real issuer does. */
  static async start(
    options: { audience?: string; alg?: 'RS256' | 'ES256'; host?: string; tls?: { certFile: string; keyFile: string } } = {},
  ): Promise<TestIssuer> {
    const holder: { issuer?: TestIssuer } = {};
    const handler = (req: IncomingMessage, res: ServerResponse) => holder.issuer?.handle(req, res);
    const server: Server =
      options.tls === undefined
        ? createServer(handler)
        : createHttpsServer({ cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) }, handler);
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const issuer = new TestIssuer(server, `${options.tls === undefined ? 'http' : 'https'}://${host}:${port}`, options.audience ?? 'larder');
    holder.issuer = issuer;
    await issuer.rotate(options.alg ?? 'RS256');
    return issuer;
  }

  get jwksUrl(): string {
    return `${this.issuer}/jwks`;
  }

  /** The kid tokens are signed with now. */
  get currentKid(): string {
    return this.current.kid;
  }

  /** Publishes a new key and signs with it from now on (the old one stays published until retired). Returns its kid. */
  async rotate(alg: 'RS256' | 'ES256' = 'RS256'): Promise<string> {
    const key = await makeKey(alg);
    this.published.push(key);
    this.made.push(key);
    this.current = key;
    return key.kid;
  }

  /** Stops publishing a key (tokens signed with it no longer verify once verifiers refetch). */
  retire(kid: string): void {
    const index = this.published.findIndex((k) => k.kid === kid);
    if (index < 0) throw new Error(`no published key ${kid}`);
    if (this.published[index] === this.current) throw new Error('retire the current key only after rotating to a new one');
    this.published.splice(index, 1);
  }

  /** Lets a client use the authorization code flow (with PKCE S256, as OAuth 2.1 requires). */
  registerClient(client: TestClient): void {
    this.clients.set(client.clientId, client);
  }

  /** The JWKS as served (public keys only), e.g. to write a static keys file. */
  jwks(): { keys: JWK[] } {
    return { keys: this.published.map((k) => ({ ...k.publicJwk })) };
  }

  /** The current key's public key as PEM (what an algorithm-confusion attacker would use as HMAC secret). */
  publicKeyPem(kid = this.current.kid): string {
    const key = this.published.find((k) => k.kid === kid);
    if (key === undefined) throw new Error(`no published key ${kid}`);
    return key.publicPem;
  }

  async issue(options: TokenOptions = {}): Promise<string> {
    const now = options.now ?? Date.now();
    const iat = Math.floor(now / 1000);
    const payload: JWTPayload = {
      iss: options.issuer ?? this.issuer,
      sub: options.sub ?? 'alice',
      aud: (options.aud ?? this.defaultAudience) as string | string[],
      iat,
      jti: randomUUID(),
      ...(options.noExpiry !== true && { exp: iat + (options.expiresIn ?? 300) }),
      ...(options.notBefore !== undefined && { nbf: iat + options.notBefore }),
      ...(options.groups !== undefined && { groups: [...options.groups] }),
      ...options.claims,
    };
    const alg = options.alg ?? this.current.alg;
    if (alg === 'none') return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;
    if (alg === 'HS256') {
      const header = { alg: 'HS256', typ: 'JWT', kid: options.kid ?? this.current.kid };
      const input = `${b64url(header)}.${b64url(payload)}`;
      const signature = createHmac('sha256', options.hmacSecret ?? this.current.publicPem)
        .update(input)
        .digest('base64url');
      return `${input}.${signature}`;
    }
    let key: SigningKey;
    if (options.unpublishedKey === true) {
      let made = this.unpublished.get(alg);
      if (made === undefined) this.unpublished.set(alg, (made = await makeKey(alg)));
      key = made;
    } else if (options.keyId !== undefined) {
      const found = this.made.find((k) => k.kid === options.keyId);
      if (found === undefined) throw new Error(`no key ${options.keyId} was made by this issuer`);
      key = found;
    } else key = this.current;
    return new SignJWT(payload).setProtectedHeader({ alg: key.alg, typ: 'JWT', kid: options.kid ?? key.kid }).sign(key.privateKey);
  }

  /**
   * A Kubernetes projected service-account token: `sub: system:serviceaccount:<ns>:<name>` and
   * the `kubernetes.io` claim, as the API server signs them.
   */
  serviceAccountToken(options: { namespace: string; name: string } & Omit<TokenOptions, 'sub'>): Promise<string> {
    const { namespace, name, ...rest } = options;
    return this.issue({
      ...rest,
      sub: `system:serviceaccount:${namespace}:${name}`,
      claims: {
        'kubernetes.io': {
          namespace,
          serviceaccount: { name, uid: randomUUID() },
          pod: { name: `${name}-0`, uid: randomUUID() },
        },
        ...rest.claims,
      },
    });
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/.well-known/openid-configuration') {
      this.discoveryRequests++;
      send(res, 200, {
        issuer: this.issuer,
        jwks_uri: this.jwksUrl,
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
        authorization_endpoint: `${this.issuer}/authorize`,
        token_endpoint: `${this.issuer}/token`,
        response_types_supported: ['code', 'id_token'],
        grant_types_supported: ['authorization_code'],
        code_challenge_methods_supported: ['S256'],
        subject_types_supported: ['public'],
      });
      return;
    }
    if (path === '/authorize' && req.method === 'GET') {
      this.authorizeRequests++;
      this.authorize(new URL(req.url ?? '/', this.issuer).searchParams, res);
      return;
    }
    if (path === '/token' && req.method === 'POST') {
      this.tokenRequests++;
      readForm(req).then(
        (form) => this.token(req, form, res),
        () => send(res, 400, { error: 'invalid_request', error_description: 'unreadable body' }),
      );
      return;
    }
    if (path === '/jwks') {
      this.jwksRequests++;
      if (this.jwksBehaviour === 'hang') {
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return;
      }
      if (this.jwksBehaviour === 'error') {
        send(res, 503, { error: 'unavailable' });
        return;
      }
      send(res, 200, this.jwks());
      return;
    }
    send(res, 404, { error: 'not found' });
  }

  /** The authorization endpoint: checks the request, then sends the browser back with a one-time code (or access_denied). */
  private authorize(q: URLSearchParams, res: ServerResponse): void {
    const client = this.clients.get(q.get('client_id') ?? '');
    const redirectUri = q.get('redirect_uri') ?? '';
    // A bad client or redirect URI is never redirected to: that is how codes get stolen.
    if (client === undefined) return send(res, 400, { error: 'invalid_client' });
    if (redirectUri !== client.redirectUri)
      return send(res, 400, { error: 'invalid_request', error_description: 'redirect_uri does not match the registered one' });
    const back = new URL(redirectUri);
    const state = q.get('state');
    if (state !== null) back.searchParams.set('state', state);
    const fail = (error: string): void => {
      back.searchParams.set('error', error);
      res.writeHead(302, { location: back.toString() });
      res.end();
    };
    if (q.get('response_type') !== 'code') return fail('unsupported_response_type');
    if (!(q.get('scope') ?? '').split(' ').includes('openid')) return fail('invalid_scope');
    const challenge = q.get('code_challenge');
    if (q.get('code_challenge_method') !== 'S256' || challenge === null || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) return fail('invalid_request');
    if (this.loginUser === undefined) return fail('access_denied');
    const code = randomBytes(24).toString('base64url');
    this.codes.set(code, {
      clientId: client.clientId,
      redirectUri,
      challenge,
      nonce: q.get('nonce') ?? undefined,
      user: this.loginUser,
      expiresAt: Date.now() + 60_000,
    });
    back.searchParams.set('code', code);
    res.writeHead(302, { location: back.toString() });
    res.end();
  }

  /** The token endpoint: a code (once, with its PKCE verifier) for an access token and an ID token. */
  private async token(req: IncomingMessage, form: URLSearchParams, res: ServerResponse): Promise<void> {
    const invalid = (description: string): void => send(res, 400, { error: 'invalid_grant', error_description: description });
    if (form.get('grant_type') !== 'authorization_code') return send(res, 400, { error: 'unsupported_grant_type' });
    const code = form.get('code') ?? '';
    const pending = this.codes.get(code);
    this.codes.delete(code); // one use, whatever happens next
    if (pending === undefined || Date.now() > pending.expiresAt) return invalid('unknown, used or expired code');
    const client = this.clients.get(pending.clientId)!;
    if (client.secret !== undefined) {
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const expected = Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.secret)}`).toString('base64');
      if (basic === undefined || basic.length !== expected.length || !timingSafeEqual(Buffer.from(basic), Buffer.from(expected)))
        return send(res, 401, { error: 'invalid_client' });
    }
    if (form.get('client_id') !== pending.clientId) return invalid('client_id does not match the code');
    if (form.get('redirect_uri') !== pending.redirectUri) return invalid('redirect_uri does not match the code');
    const verifier = form.get('code_verifier') ?? '';
    if (createHash('sha256').update(verifier).digest('base64url') !== pending.challenge) return invalid('code_verifier does not match the code_challenge');
    const user = pending.user;
    const groups = user.groups === undefined ? {} : { groups: user.groups };
    const accessToken = await this.issue({ sub: user.sub, ...groups, expiresIn: this.accessTokenLifetime });
    const idToken = await this.issue({
      sub: user.sub,
      aud: pending.clientId,
      claims: { ...(pending.nonce !== undefined && { nonce: pending.nonce }), ...(user.name !== undefined && { name: user.name }) },
    });
    send(res, 200, { access_token: accessToken, id_token: idToken, token_type: 'Bearer', expires_in: this.accessTokenLifetime });
  }
}

/** A form body of at most 64 kB. */
function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > 64 * 1024) req.destroy(new Error('body too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

async function makeKey(alg: 'RS256' | 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `key-${randomUUID().slice(0, 8)}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk, publicPem: await exportSPKI(publicKey) };
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
