import type { IncomingMessage } from 'node:http';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { CertificateIdentity } from './principal';

/**
 * The identity in a client certificate as Node (and grpc-js's `sslPeerCertificate`) presents
 * it: the subject's CN and the subject alternative names without their type prefix.
 */
export function certificateIdentity(cert: Pick<PeerCertificate, 'subject' | 'subjectaltname'>): CertificateIdentity {
  const cn = cert.subject?.CN;
  // A repeated attribute comes as an array; the last CN is the most specific by convention.
  const subject = Array.isArray(cn) ? String(cn[cn.length - 1] ?? '') : typeof cn === 'string' ? cn : '';
  return { subject, sans: parseSubjectAltNames(cert.subjectaltname ?? '') };
}

/** "DNS:a.example, IP Address:10.0.0.1, URI:spiffe://x" -> ["a.example", "10.0.0.1", "spiffe://x"]. */
export function parseSubjectAltNames(text: string): string[] {
  const names: string[] = [];
  // Node quotes a value holding a comma or quote as a JSON string: DNS:"a, b".
  const entry = /\s*([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)\s*(?:,|$)/y;
  let offset = 0;
  while (offset < text.length) {
    entry.lastIndex = offset;
    const match = entry.exec(text);
    if (match === null || entry.lastIndex === offset) break;
    let value = (match[2] ?? '').trim();
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        value = value.slice(1, -1);
      }
    }
    if (value !== '') names.push(value);
    offset = entry.lastIndex;
  }
  return names;
}

/**
 * The verified client certificate of an HTTPS request, or undefined for plain HTTP, no
 * certificate, or one that did not verify against the server's client CA (Node still hands
 * those over when the server requests but does not require a certificate).
 */
export function httpPeerCertificate(req: IncomingMessage): CertificateIdentity | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.encrypted !== true || socket.authorized !== true || typeof socket.getPeerCertificate !== 'function') return undefined;
  const cert = socket.getPeerCertificate();
  if (cert === null || typeof cert !== 'object' || Object.keys(cert).length === 0) return undefined;
  return certificateIdentity(cert);
}
