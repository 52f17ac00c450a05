import type { IncomingMessage } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Code } from './code';
import { codeName } from './code';
import { createHttpListener } from './http/listener';
import type { ServerTls } from './tls/server-tls';

export interface RpcLabels {
  service: string;
  method: string;
  kind: string;
}

interface MethodInstruments {
  started: { inc(): void };
  latency: { observe(seconds: number): void };
  inFlight: { inc(): void; dec(): void };
  handled: Map<Code, { inc(): void }>;
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
  private readonly byMethod = new Map<string, MethodInstruments>();

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
    const method = this.methodInstruments(labels);
    method.started.inc();
    method.inFlight.inc();
    const started = performance.now();
    let done = false;
    return (code) => {
      if (done) return;
      done = true;
      method.latency.observe((performance.now() - started) / 1000);
      method.inFlight.dec();
      let handled = method.handled.get(code);
      if (handled === undefined) {
        handled = this.handled.labels({ grpc_service: labels.service, grpc_method: labels.method, grpc_type: labels.kind, grpc_code: codeName(code) });
        method.handled.set(code, handled);
      }
      handled.inc();
    };
  }

  /**
   * The labelled children of one method, resolved once: prom-client hashes the label
   * set on every unlabelled inc/observe, which cost more than the rest of the
   * bookkeeping on a sub-millisecond call.
   */
  private methodInstruments(labels: RpcLabels): MethodInstruments {
    const key = `${labels.service}/${labels.method}`;
    let instruments = this.byMethod.get(key);
    if (instruments === undefined) {
      const base = { grpc_service: labels.service, grpc_method: labels.method, grpc_type: labels.kind };
      instruments = {
        started: this.started.labels(base),
        latency: this.latency.labels(base),
        inFlight: this.inFlight.labels({ grpc_service: labels.service, grpc_method: labels.method }),
        handled: new Map(),
      };
      this.byMethod.set(key, instruments);
    }
    return instruments;
  }
}

export interface MetricsEndpointOptions {
  registry: Registry;
  /** Address to bind; loopback unless given. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** HTTPS with the service's certificate when given. */
  tls?: ServerTls | undefined;
  /** Liveness: the process is up and not stopped. */
  live: () => boolean;
  /** Readiness: the server is serving. */
  ready: () => boolean;
  /** Why it is not ready, for /readyz's body. */
  notReadyReason?: () => string | undefined;
  /** Who may GET /metrics; every caller when absent. /healthz and /readyz stay open. */
  guard?: MetricsGuard | undefined;
}

/** A refusal of a /metrics request: the status, headers and body to answer with. */
export interface MetricsRefusal {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * Decides whether a request may read /metrics (the service's authentication lives outside
 * this library): undefined to allow, or the refusal to answer with.
 */
export type MetricsGuard = (req: IncomingMessage) => Promise<MetricsRefusal | undefined>;

export interface MetricsEndpoint {
  readonly port: number;
  /** "host:port" as the socket is bound. */
  readonly bound: string;
  /** "https://host:port" (or http) a client on this machine dials. */
  readonly url: string;
  /** "https://host:port" (or http) as the socket is bound, for the listening line. */
  readonly boundUrl: string;
  close(): Promise<void>;
}

/** An HTTP server with /metrics, /healthz (liveness) and /readyz (readiness). */
export async function startMetricsEndpoint(options: MetricsEndpointOptions): Promise<MetricsEndpoint> {
  const listener = await createHttpListener({ host: options.host ?? '127.0.0.1', port: options.port, tls: options.tls }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      const refusal = options.guard === undefined ? Promise.resolve(undefined) : options.guard(req);
      refusal
        .then(async (refused) => {
          if (refused !== undefined) {
            res.writeHead(refused.status, { 'content-type': 'application/json', ...refused.headers }).end(refused.body);
            return;
          }
          const text = await options.registry.metrics();
          res.writeHead(200, { 'content-type': options.registry.contentType }).end(text);
        })
        .catch((error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(error)}\n`));
    } else if (path === '/healthz' || path === '/readyz') {
      const up = path === '/healthz' ? options.live() : options.ready();
      const reason = up || path === '/healthz' ? undefined : options.notReadyReason?.();
      res.writeHead(up ? 200 : 503, { 'content-type': 'text/plain' }).end(up ? 'ok\n' : `not serving${reason === undefined ? '' : `: ${reason}`}\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  const { bound, port, url, boundUrl } = listener;
  return { port, bound, url, boundUrl, close: () => listener.close('all') };
}
