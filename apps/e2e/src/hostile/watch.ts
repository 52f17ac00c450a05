// What the hostile suite watches while it attacks: health of every service, how long the
// store's event loop was held, and files outside the roots.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { healthV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';

/** CPU time (ms) the main thread of `pid` has used: Linux's per-thread schedstat. */
function mainThreadCpuMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

export interface HealthFigures {
  checks: number;
  notServing: number;
  /** Slowest Check, wall clock. */
  worstWallMs: number;
  /**
   * Slowest Check counted as the store's main-thread CPU time spent while it was in
   * flight (at most its wall time): how long it waited on the event loop. On a loaded
   * 2-core machine wall time also counts time nobody was scheduled; this does not.
   */
  worstLoopMs: number;
}

export interface HealthWatch {
  readonly ready: Promise<void>;
  stop(): Promise<HealthFigures>;
}

/**
 * Checks health of each address in turn (service '' of each), one at a time, every
 * `everyMs`, until stopped. `pid` is the store process, whose main thread runs all five.
 */
export function watchHealth(addresses: readonly string[], pid: number, everyMs = 10): HealthWatch {
  const clients = addresses.map((address) => createClient(healthV1.Health, address));
  const figures: HealthFigures = { checks: 0, notServing: 0, worstWallMs: 0, worstLoopMs: 0 };
  let stopped = false;
  const ready = Promise.all(clients.map((c) => c.check({ service: '' }, { timeoutMs: 5_000 }))).then(() => undefined);
  const loop = (async () => {
    await ready;
    for (let i = 0; !stopped; i++) {
      const client = clients[i % clients.length]!;
      const cpuBefore = mainThreadCpuMs(pid);
      const started = performance.now();
      let serving = false;
      try {
        serving = (await client.check({ service: '' }, { timeoutMs: 10_000 })).status === healthV1.HealthCheckResponse_ServingStatus.SERVING;
      } catch {
        serving = false;
      }
      const wall = performance.now() - started;
      const loopMs = Math.min(wall, mainThreadCpuMs(pid) - cpuBefore);
      figures.checks++;
      if (!serving) figures.notServing++;
      figures.worstWallMs = Math.max(figures.worstWallMs, wall);
      figures.worstLoopMs = Math.max(figures.worstLoopMs, loopMs);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    ready,
    async stop() {
      stopped = true;
      await loop.finally(() => clients.forEach((c) => c.close()));
      return figures;
    },
  };
}

/** Each file under `dir` (recursively) with its size, mtime and content hash. */
export function snapshotTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) {
        out[`${full}/`] = 'dir';
        walk(full);
      } else {
        const stat = statSync(full);
        out[full] = `${stat.size} ${stat.mtimeMs} ${createHash('sha256').update(readFileSync(full)).digest('hex')}`;
      }
    }
  };
  walk(dir);
  return out;
}
