import { readFileSync } from 'node:fs';
import { healthV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';

export interface HealthProbe {
  /** Resolves once the first Check answered (the channel is connected); start the attack after it. */
  readonly ready: Promise<void>;
  /**
   * Stops probing; resolves with the slowest Check seen (wall clock, ms), how many
   * answered and with what, and the most CPU time this process spent between two
   * turns of its event loop (ms).
   */
  stop(): Promise<ProbeResult>;
}

export interface ProbeResult {
  worstMs: number;
  checks: number;
  statuses: healthV1.HealthCheckResponse_ServingStatus[];
  /**
   * The longest stretch the event loop was held, in CPU time: what a Check waits for
   * on an idle machine. Wall-clock latency on a shared, loaded machine also counts
   * time the process was not scheduled at all, so tests assert on this one.
   */
  worstBlockCpuMs: number;
  /**
   * With `pid`: the most CPU time that process's main thread spent while one Check was in
   * flight (capped at the Check's wall time): how long the Check waited on a service in
   * another process, leaving out time the machine did not schedule it. 0 without `pid`.
   */
  worstServiceCpuMs: number;
}

/**
 * Calls grpc.health.v1 Check on `address` every `everyMs` (one at a time) until
 * stopped, recording each answer's latency: what a Kubernetes probe would see while
 * a test attacks the service. For a service running in this process it also times
 * how long the event loop is held (see ProbeResult.worstBlockCpuMs).
 */
export function probeHealth(address: string, everyMs = 20, options: { pid?: number } = {}): HealthProbe {
  const { pid } = options;
  const client = createClient(healthV1.Health, address);
  let stopped = false;
  let worstMs = 0;
  let checks = 0;
  const statuses: healthV1.HealthCheckResponse_ServingStatus[] = [];
  let worstBlockCpuMs = 0;
  let worstServiceCpuMs = 0;
  let last = mainThreadCpuMs();
  const ticker = setInterval(() => {
    const now = mainThreadCpuMs();
    worstBlockCpuMs = Math.max(worstBlockCpuMs, now - last);
    last = now;
  }, 2);
  // One call first, so the channel is connected before latencies count.
  const ready = client.check({ service: '' }, { timeoutMs: 5_000 }).then(() => undefined);
  const loop = (async () => {
    await ready;
    while (!stopped) {
      const started = performance.now();
      const serviceBefore = pid === undefined ? 0 : mainThreadCpuMs(pid);
      const res = await client.check({ service: '' }, { timeoutMs: 10_000 });
      const wall = performance.now() - started;
      worstMs = Math.max(worstMs, wall);
      if (pid !== undefined) worstServiceCpuMs = Math.max(worstServiceCpuMs, Math.min(wall, mainThreadCpuMs(pid) - serviceBefore));
      checks++;
      statuses.push(res.status);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    ready,
    async stop() {
      stopped = true;
      await loop.finally(() => {
        clearInterval(ticker);
        client.close();
      });
      return { worstMs, checks, statuses, worstBlockCpuMs, worstServiceCpuMs };
    },
  };
}

/** CPU time (user + system, ms) this process spends during the next `ms` milliseconds. */
export async function cpuMsDuring(ms: number): Promise<number> {
  const before = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

/**
 * CPU time of the main (event-loop) thread, ms: Linux's per-thread schedstat, in ns,
 * so the GC's helper threads do not count; the whole process's elsewhere.
 */
/** CPU time (ms) of a process's main thread (this one's by default), from the kernel's schedstat. */
function mainThreadCpuMs(pid: number = process.pid): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000;
  }
}
