import { createServer } from 'node:http';
import type { RequestListener, Server, ServerOptions } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ServerTls } from '../tls/server-tls';
import type { HttpLimits } from './body';
import { dialHost, hostPort } from './listen';

export interface HttpListenerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** HTTPS with the service's certificate (followed when it is rotated); plain HTTP when undefined. */
  tls?: ServerTls | undefined;
  /** Cut clients slower than these (JSON endpoints); Node's defaults otherwise. */
  limits?: Pick<HttpLimits, 'headersTimeout' | 'requestTimeout'> | undefined;
}

export interface HttpListener {
  readonly server: Server;
  readonly scheme: 'http' | 'https';
  readonly port: number;
  /** "host:port" exactly as the socket is bound, for logs. */
  readonly bound: string;
  /** "https://host:port" (or http) a client on this machine dials. */
  readonly url: string;
  /** "https://host:port" of the bound address, for listening lines. */
  readonly boundUrl: string;
  /** Stops listening; `all` also cuts connections with a request in progress (default: idle ones only). */
  close(connections?: 'idle' | 'all'): Promise<void>;
}

/** Node checks headersTimeout and requestTimeout this often (its default, 30 s, would let a slow client stay long past them). */
const CONNECTION_CHECK_MS = 1_000;

/**
 * The one way a Larder service opens an HTTP endpoint (metrics, the online gateway,
 * ingestion's push): HTTPS when the service has TLS, with the same certificate as its
 * gRPC port, reloaded for new connections when the files change; the slow-client limits
 * when given. A client speaking plaintext to the TLS port, or a garbage handshake, is
 * dropped in the handshake and reaches no handler.
 */
export async function createHttpListener(options: HttpListenerOptions, handler: RequestListener): Promise<HttpListener> {
  const serverOptions: ServerOptions =
    options.limits === undefined ? {} : { connectionsCheckingInterval: Math.min(CONNECTION_CHECK_MS, options.limits.headersTimeout) };
  const tls = options.tls;
  const server: Server = tls === undefined ? createServer(serverOptions, handler) : createHttpsServer({ ...serverOptions, ...tls.httpsOptions() }, handler);
  if (options.limits !== undefined) {
    server.headersTimeout = options.limits.headersTimeout;
    // Node wants requestTimeout at least headersTimeout (0 would turn it off).
    server.requestTimeout = Math.max(options.limits.requestTimeout, options.limits.headersTimeout);
    server.keepAliveTimeout = 65_000;
  }
  if (tls !== undefined) tls.follow(server as HttpsServer);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const scheme = tls === undefined ? 'http' : 'https';
  const bound = hostPort(address.address, address.port);
  return {
    server,
    scheme,
    port: address.port,
    bound,
    url: `${scheme}://${hostPort(dialHost(address.address), address.port)}`,
    boundUrl: `${scheme}://${bound}`,
    close: (connections = 'idle') =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if (connections === 'all') server.closeAllConnections();
        else server.closeIdleConnections();
      }),
  };
}
