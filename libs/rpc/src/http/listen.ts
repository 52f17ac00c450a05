import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A host as it appears in "host:port" (IPv6 in brackets). */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Where a client on this machine dials a listener bound to `host`: loopback for a wildcard bind. */
export function dialHost(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
}

export interface Listening {
  /** "host:port" exactly as the socket is bound (read back from it), for logs. */
  readonly bound: string;
  readonly port: number;
  /** "http://host:port" a client on this machine dials. */
  readonly url: string;
}

/** Listens on host:port and reads back the address the socket really has. */
export async function listen(server: Server, host: string, port: number): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return { bound: hostPort(address.address, address.port), port: address.port, url: `http://${hostPort(dialHost(address.address), address.port)}` };
}
