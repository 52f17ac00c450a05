import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';

/** Least key material in ui.sessionKeyFile: 32 bytes, as AES-256 wants. */
export const MIN_SESSION_KEY_BYTES = 32;
/** Longest cookie value read: a sealed access token of a few kB fits; anything larger is not ours. */
const MAX_SEALED_CHARS = 8 * 1024;
const FORMAT = 'v1';

/**
 * Seals small JSON values into cookie values and opens them again: AES-256-GCM with a
 * key derived from the operator's key file, so a cookie can be neither read nor
 * altered nor forged without the key. Each purpose (the session, a login in progress)
 * is bound in as associated data, so a cookie of one kind is refused as another.
 */
export class CookieSealer {
  private readonly key: Buffer;

  constructor(material: Buffer) {
    if (material.length < MIN_SESSION_KEY_BYTES) throw new Error(`the session key must hold at least ${MIN_SESSION_KEY_BYTES} bytes (got ${material.length})`);
    this.key = Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), 'larder-ui cookies v1', 32));
  }

  static fromFile(file: string): CookieSealer {
    return new CookieSealer(readFileSync(file));
  }

  seal(purpose: string, value: unknown): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(purpose));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return `${FORMAT}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  /** The value, or undefined for anything not sealed by this key for this purpose. */
  open(purpose: string, sealed: string | undefined): unknown {
    if (sealed === undefined || sealed.length > MAX_SEALED_CHARS || !sealed.startsWith(`${FORMAT}.`)) return undefined;
    const raw = Buffer.from(sealed.slice(FORMAT.length + 1), 'base64url');
    if (raw.length < 12 + 16 + 2) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(purpose));
      decipher.setAuthTag(raw.subarray(12, 28));
      const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }
}

/** A cookie of the request by name; the first one when sent twice. */
export function cookieOf(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined || header.length > 16 * 1024) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export interface CookieOptions {
  path: string;
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
  secure: boolean;
}

/** A Set-Cookie value: always HttpOnly and SameSite=Lax, Secure when the UI speaks TLS. */
export function setCookie(name: string, value: string, options: CookieOptions): string {
  return `${name}=${value}; Path=${options.path}; Max-Age=${Math.max(0, Math.floor(options.maxAge))}; HttpOnly; SameSite=Lax${options.secure ? '; Secure' : ''}`;
}
