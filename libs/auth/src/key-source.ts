import { readFileSync, statSync } from 'node:fs';
import { createLocalJWKSet, errors } from 'jose';
import type { FlattenedJWSInput, JSONWebKeySet, JWSHeaderParameters, KeyLike } from 'jose';
import type { Logger } from '@larder/rpc';
import { fetchJson } from './fetch-json';

/** A token names a key the issuer does not (or no longer) publishes. */
export class UnknownKeyError extends Error {
  override readonly name = 'UnknownKeyError';
}

/** The issuer's keys cannot be had right now (fetch failing and nothing cached). */
export class KeysUnavailableError extends Error {
  override readonly name = 'KeysUnavailableError';
}

/** Where verification keys come from: jose's getKey callback plus lifecycle. */
export interface KeySource {
  getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<KeyLike | Uint8Array>;
  /** Changes whenever the published key set changes, so verified-token caches can drop entries. */
  readonly generation: number;
  /** Fetch ahead of the first token (failures are logged, not thrown). */
  prefetch(): Promise<void>;
}

export interface RemoteKeyOptions {
  /** The issuer, for discovery; used when jwksUrl is empty. */
  readonly issuer: string;
  readonly jwksUrl: string;
  readonly caFile: string;
  readonly fetchTokenFile: string;
  readonly cooldownMs: number;
  readonly maxAgeMs: number;
  readonly timeoutMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

const MAX_DOCUMENT_BYTES = 1024 * 1024;

/**
 * The issuer's JWKS, fetched over HTTP(S) and cached. A token with a key id not in the cached
 * set prompts a refetch (key rotation), at most once per cooldown so random key ids cannot
 * turn callers into a flood against the issuer; the set is also refetched after maxAge so a
 * retired key stops verifying. While the issuer is down the last good set keeps serving.
 */
export class RemoteKeySource implements KeySource {
  generation = 0;
  private local: ReturnType<typeof createLocalJWKSet> | undefined;
  private kids = '';
  private fetchedAt = -Infinity;
  private attemptedAt = -Infinity;
  private lastError: Error | undefined;
  private inflight: Promise<void> | undefined;
  private jwksUrl: string | undefined;
  private readonly now: () => number;
  private readonly ca: Buffer | undefined;

  constructor(private readonly options: RemoteKeyOptions) {
    this.now = options.now ?? Date.now;
    this.ca = options.caFile === '' ? undefined : readFileSync(options.caFile);
    if (options.jwksUrl !== '') this.jwksUrl = options.jwksUrl;
  }

  async prefetch(): Promise<void> {
    await this.refresh();
  }

  async getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<KeyLike | Uint8Array> {
    const now = this.now();
    if (this.local === undefined) {
      // Nothing cached yet: wait for a fetch, but after a failure only retry once the backoff passed.
      if (now - this.attemptedAt >= this.failureBackoffMs()) await this.refresh();
      if (this.local === undefined) throw new KeysUnavailableError(`the issuer's signing keys cannot be fetched now; try again later`);
    } else if (now - this.fetchedAt >= this.options.maxAgeMs && now - this.attemptedAt >= this.failureBackoffMs()) {
      void this.refresh(); // stale: refresh behind the current call, which uses the set in hand
    }
    try {
      return await (this.local as ReturnType<typeof createLocalJWKSet>)(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
    }
    // An unknown key id: perhaps the issuer rotated. Refetch unless that was just done.
    if (this.now() - this.attemptedAt >= this.options.cooldownMs) {
      await this.refresh();
      if (this.lastError !== undefined && this.attemptedAt > this.fetchedAt) {
        throw new KeysUnavailableError(`the token's signing key is not among the cached keys and the issuer's keys cannot be fetched now; try again later`);
      }
      try {
        return await (this.local as ReturnType<typeof createLocalJWKSet>)(header, token);
      } catch (error) {
        if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      }
    }
    throw new UnknownKeyError('token signed by an unknown key');
  }

  private failureBackoffMs(): number {
    return Math.min(this.options.cooldownMs, 5000);
  }

  /** One fetch at a time; concurrent callers share it. Never rejects. */
  private refresh(): Promise<void> {
    this.inflight ??= this.fetchKeys().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    this.attemptedAt = this.now();
    try {
      const url = this.jwksUrl ?? (await this.discover());
      const jwks = await fetchJson(url, this.fetchOptions());
      this.install(asKeySet(jwks, url));
      this.fetchedAt = this.now();
      this.lastError = undefined;
    } catch (error) {
      this.lastError = error as Error;
      this.options.logger.warn('cannot fetch the token issuer keys', { issuer: this.options.issuer, error: (error as Error).message });
    }
  }

  private async discover(): Promise<string> {
    const issuer = this.options.issuer;
    const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const doc = (await fetchJson(url, this.fetchOptions())) as { issuer?: unknown; jwks_uri?: unknown } | null;
    if (doc === null || typeof doc !== 'object') throw new Error(`${url}: not an OpenID configuration document`);
    // OpenID Connect Discovery 1.0 section 4.3: the document must name the issuer it was fetched for.
    if (doc.issuer !== issuer) throw new Error(`${url} names issuer ${JSON.stringify(doc.issuer)}, not ${JSON.stringify(issuer)}`);
    if (typeof doc.jwks_uri !== 'string' || !/^https?:\/\//.test(doc.jwks_uri)) throw new Error(`${url}: jwks_uri is missing or not an http(s) URL`);
    this.jwksUrl = doc.jwks_uri;
    return doc.jwks_uri;
  }

  private fetchOptions() {
    const token = this.options.fetchTokenFile === '' ? undefined : readFileSync(this.options.fetchTokenFile, 'utf8').trim();
    return {
      timeoutMs: this.options.timeoutMs,
      maxBytes: MAX_DOCUMENT_BYTES,
      ...(this.ca !== undefined && { ca: this.ca }),
      ...(token !== undefined && { bearerToken: token }),
    };
  }

  private install(jwks: JSONWebKeySet): void {
    const kids = keySetFingerprint(jwks);
    this.local = createLocalJWKSet(jwks);
    if (kids !== this.kids) {
      this.kids = kids;
      this.generation++;
    }
  }
}

/** Keys from a JWKS file, re-read when it changes (checked on an unknown key id, at most once per cooldown). */
export class StaticKeySource implements KeySource {
  generation = 0;
  private local: ReturnType<typeof createLocalJWKSet>;
  private mtimeMs: number;
  private checkedAt: number;
  private readonly now: () => number;

  constructor(
    private readonly file: string,
    private readonly cooldownMs: number,
    now?: () => number,
  ) {
    this.now = now ?? Date.now;
    this.mtimeMs = statSync(file).mtimeMs;
    this.local = createLocalJWKSet(readKeysFile(file));
    this.checkedAt = this.now();
  }

  prefetch(): Promise<void> {
    return Promise.resolve();
  }

  async getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<KeyLike | Uint8Array> {
    try {
      return await this.local(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
    }
    if (this.now() - this.checkedAt >= this.cooldownMs) {
      this.checkedAt = this.now();
      try {
        const mtimeMs = statSync(this.file).mtimeMs;
        if (mtimeMs !== this.mtimeMs) {
          this.local = createLocalJWKSet(readKeysFile(this.file));
          this.mtimeMs = mtimeMs;
          this.generation++;
          return await this.local(header, token);
        }
      } catch (error) {
        if (!(error instanceof errors.JWKSNoMatchingKey)) throw new KeysUnavailableError(`the configured keys cannot be read now; try again later`);
      }
    }
    throw new UnknownKeyError('token signed by an unknown key');
  }
}

/** Reads and checks a JWKS file; the error names the file and what is wrong. */
export function readKeysFile(file: string): JSONWebKeySet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file}: cannot read a JWKS (${(error as Error).message})`);
  }
  return asKeySet(parsed, file);
}

function asKeySet(value: unknown, where: string): JSONWebKeySet {
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || !keys.every((k) => k !== null && typeof k === 'object' && typeof (k as { kty?: unknown }).kty === 'string')) {
    throw new Error(`${where}: expected a JWKS: {"keys": [{"kty": ...}, ...]}`);
  }
  // Private or symmetric material has no business in a verification set; an "oct" key would
  // let HS* tokens verify, which the algorithm allow-list refuses anyway.
  const usable = keys.filter((k: { kty: string; d?: unknown }) => k.kty !== 'oct' && k.d === undefined);
  return { keys: usable as JSONWebKeySet['keys'] };
}

function keySetFingerprint(jwks: JSONWebKeySet): string {
  return jwks.keys
    .map((k) => `${k.kid ?? ''}:${k.kty}:${k.n ?? k.x ?? ''}`)
    .sort()
    .join('|');
}
