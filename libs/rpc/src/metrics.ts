import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Code } from './code';
import { codeName } from './code';

export interface RpcLabels {
  service: string;
  method: string;
  kind: string;
}

/**
 * Per-server Prometheus metrics. Names follow go-grpc-prometheus so that
 * existing gRPC dashboards work unchanged.
 */
export class RpcMetrics {
  readonly registry: Registry;
  private readonly started: Counter<'grpc_service' | 'grpc_method' | 'grpc_type'>;
  private readonly handled: Counter<'grpc_service' | 'grpc_method' | 'grpc_type' | 'grpc_code'>;
  private readonly latency: Histogram<'grpc_service' | 'grpc_method' | 'grpc_type'>;
  private readonly inFlight: Gauge<'grpc_service' | 'grpc_method'>;

  constructor(options: { defaultMetrics?: boolean; labels?: Record<string, string> } = {}) {
    this.registry = new Registry();
    if (options.labels) this.registry.setDefaultLabels(options.labels);
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.started = new Counter({
      name: 'grpc_server_started_total',
      help: 'RPCs started on the server.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type'],
      registers,
    });
    this.handled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'RPCs completed on the server, by status code.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'],
      registers,
    });
    this.latency = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Time from the start of an RPC to its status, in seconds.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.inFlight = new Gauge({
      name: 'grpc_server_in_flight',
      help: 'RPCs currently being handled.',
      labelNames: ['grpc_service', 'grpc_method'],
      registers,
    });
  }

  /** Records the start of a call; call the returned function with its final code. */
  begin(labels: RpcLabels): (code: Code) => void {
    const base = { grpc_service: labels.service, grpc_method: labels.method, grpc_type: labels.kind };
    this.started.inc(base);
    this.inFlight.inc({ grpc_service: labels.service, grpc_method: labels.method });
    const stop = this.latency.startTimer(base);
    let done = false;
    return (code) => {
      if (done) return;
      done = true;
      stop();
      this.inFlight.dec({ grpc_service: labels.service, grpc_method: labels.method });
      this.handled.inc({ ...base, grpc_code: codeName(code) });
    };
  }
}

export interface MetricsEndpointOptions {
  registry: Registry;
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Liveness: the process is up and not stopped. */
  live: () => boolean;
  /** Readiness: the server is serving. */
  ready: () => boolean;
}

export interface MetricsEndpoint {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** An HTTP server with /metrics, /healthz (liveness) and /readyz (readiness). */
export async function startMetricsEndpoint(options: MetricsEndpointOptions): Promise<MetricsEndpoint> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(error)}\n`),
      );
    } else if (path === '/healthz' || path === '/readyz') {
      const up = path === '/healthz' ? options.live() : options.ready();
      res.writeHead(up ? 200 : 503, { 'content-type': 'text/plain' }).end(up ? 'ok\n' : 'not serving\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  const host = options.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
