import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import type { PeerCertificate as NodePeerCertificate } from 'node:tls';

/** A client certificate that verified against the server's client CA (mTLS). */
export interface PeerCertificate {
  /** The subject's common name ('' when it has none; the first when it has several). */
  readonly subject: string;
  /**
   * Subject alternative names as values without their type: DNS names, URIs (e.g. a
   * SPIFFE id), IP addresses, e-mail addresses.
   */
  readonly sans: readonly string[];
  /** The issuer's common name. */
  readonly issuer: string;
  /** Upper-case hex. */
  readonly serialNumber: string;
  /** SHA-256 fingerprint, "AB:CD:…". */
  readonly fingerprint256: string;
}

/** Our shape of a certificate Node reports for a verified peer; undefined for none. */
export function toPeerCertificate(cert: NodePeerCertificate | undefined): PeerCertificate | undefined {
  if (cert === undefined || cert === null || cert.raw === undefined || Object.keys(cert).length === 0) return undefined;
  return {
    subject: firstValue(cert.subject?.CN),
    sans: parseSubjectAltName(cert.subjectaltname ?? ''),
    issuer: firstValue(cert.issuer?.CN),
    serialNumber: cert.serialNumber.toUpperCase(),
    fingerprint256: cert.fingerprint256,
  };
}

/**
 * The verified client certificate of an HTTPS request, or undefined (plain HTTP, no
 * certificate, or one that did not verify against the client CA: with
 * tls.requireClientCert off such a client still connects, and must count as anonymous).
 */
export function peerCertificateOf(req: IncomingMessage): PeerCertificate | undefined {
  const socket = req.socket;
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  return toPeerCertificate(socket.getPeerCertificate());
}

function firstValue(value: string | string[] | undefined): string {
  if (Array.isArray(value)) return value[0] ?? '';
  return value ?? '';
}

/**
 * Node's subjectaltname text, "DNS:a, URI:spiffe://x, IP Address:10.0.0.1", as values.
 * Node quotes (JSON) a value holding a comma or quote, so a name cannot smuggle in a
 * second entry.
 */
export function parseSubjectAltName(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon === -1) break;
    let j = colon + 1;
    let value: string;
    if (text[j] === '"') {
      // A JSON string: find its closing quote, skipping escapes.
      let k = j + 1;
      while (k < text.length && text[k] !== '"') k += text[k] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(text.slice(j, k + 1)) as string;
      } catch {
        value = text.slice(j + 1, k);
      }
      j = k + 1;
    } else {
      const comma = text.indexOf(', ', j);
      const end = comma === -1 ? text.length : comma;
      value = text.slice(j, end);
      j = end;
    }
    out.push(value);
    i = text.startsWith(', ', j) ? j + 2 : j + 1;
  }
  return out;
}
