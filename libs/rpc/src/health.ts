import { create } from '@bufbuild/protobuf';
import { healthV1 } from '@larder/proto';
import type { ServiceImpl } from './adapter/types';
import { Code } from './code';
import { RpcError } from './rpc-error';

export const ServingStatus = healthV1.HealthCheckResponse_ServingStatus;
export type ServingStatus = healthV1.HealthCheckResponse_ServingStatus;

type Listener = (status: ServingStatus) => void;

/**
 * grpc.health.v1 state: '' for the whole server plus one entry per service.
 * Watch streams every change; shutdown() turns everything NOT_SERVING and
 * ends the watches, so probes see the change before the port closes.
 */
export class HealthRegistry {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly ended = new AbortController();

  constructor(services: Iterable<string> = [], initial: ServingStatus = ServingStatus.NOT_SERVING) {
    this.statuses.set('', initial);
    for (const service of services) this.statuses.set(service, initial);
  }

  setStatus(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const listener of this.listeners.get(service) ?? []) listener(status);
  }

  /** Sets the whole server and every service. */
  setAll(status: ServingStatus): void {
    for (const service of [...this.statuses.keys()]) this.setStatus(service, status);
  }

  getStatus(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  services(): string[] {
    return [...this.statuses.keys()];
  }

  /** Everything NOT_SERVING, then ends open Watch streams. */
  shutdown(): void {
    this.setAll(ServingStatus.NOT_SERVING);
    this.ended.abort();
  }

  /** The Health service implementation over this registry. */
  impl(): ServiceImpl<typeof healthV1.Health> {
    return {
      check: (request) => {
        const status = this.statuses.get(request.service);
        if (status === undefined) throw new RpcError(Code.NOT_FOUND, `unknown service "${request.service}"`);
        return { status };
      },
      watch: (request, ctx) => this.watch(request.service, ctx.signal),
    };
  }

  private async *watch(service: string, signal: AbortSignal): AsyncGenerator<healthV1.HealthCheckResponse> {
    const pending: ServingStatus[] = [this.statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN];
    let wake: (() => void) | undefined;
    const notify = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const listener: Listener = (status) => {
      pending.push(status);
      notify();
    };
    let set = this.listeners.get(service);
    if (!set) this.listeners.set(service, (set = new Set()));
    set.add(listener);
    signal.addEventListener('abort', notify);
    this.ended.signal.addEventListener('abort', notify);
    try {
      for (;;) {
        const status = pending.shift();
        if (status !== undefined) {
          yield create(healthV1.HealthCheckResponseSchema, { status });
          continue;
        }
        if (signal.aborted || this.ended.signal.aborted) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      set.delete(listener);
      signal.removeEventListener('abort', notify);
      this.ended.signal.removeEventListener('abort', notify);
    }
  }
}
