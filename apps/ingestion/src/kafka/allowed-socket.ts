import net from 'node:net';
import tls from 'node:tls';
import { brokerAllowed, ENDPOINT_SETTINGS } from '@larder/core';
import type { EndpointAllowList } from '@larder/core';
import type { ISocketFactory } from 'kafkajs';

const KEEP_ALIVE_MS = 60_000;

/**
 * kafkajs's socket factory, refusing hosts outside the allow-list. The sources' bootstrap
 * servers are checked before a consumer exists; this also covers the brokers a cluster
 * advertises in its metadata, which kafkajs dials on its own.
 */
export function allowedSocketFactory(allow: EndpointAllowList): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    if (!brokerAllowed(allow, host, port)) {
      // An unconnected socket that fails at once: kafkajs sees a connection error and no packet leaves.
      const refused = new net.Socket();
      process.nextTick(() =>
        refused.destroy(new Error(`broker ${host}:${port} is not allowed by ${ENDPOINT_SETTINGS.kafkaBrokers.env} (${allow.kafkaBrokers.join(', ')})`)),
      );
      return refused;
    }
    const socket = ssl
      ? tls.connect({ host, port, ...(net.isIP(host) === 0 && { servername: host }), ...(typeof ssl === 'object' ? ssl : {}) }, onConnect)
      : net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, KEEP_ALIVE_MS);
    return socket;
  };
}
