// Hostile-client benchmark (issue 15): the suite of apps/e2e/src/hostile.spec.ts with
// larger fuzz counts, against the store as `npm start` runs it (one process, five
// services, DuckDB and SQLite, the quickstart as its only root). Records per phase
// (each targeted attack, each fuzzed method) the requests tried, their statuses, the
// worst health Check (wall clock, and counted as the store's main-thread CPU while it
// was in flight: the event-loop wait), and at the end the store's peak RSS (VmHWM).
//   LARDER_BENCH_HOSTILE_COUNTS: valid,mutated,garbage,oversize per method (default 100,100,50,2)
//   LARDER_BENCH_HOSTILE_SEED (default 15)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seededRandom } from '@larder/testing';
import { HOSTILE_STORE_ENV, runHostile, startHostileStore, summarize } from '@larder/e2e';
import type { BenchRecord } from './table';

function counts(): { valid: number; mutated: number; garbage: number; oversize: number } {
  const [valid, mutated, garbage, oversize] = (process.env['LARDER_BENCH_HOSTILE_COUNTS'] ?? '100,100,50,2').split(',').map(Number);
  if ([valid, mutated, garbage, oversize].some((n) => n === undefined || !Number.isInteger(n) || n < 0))
    throw new Error('LARDER_BENCH_HOSTILE_COUNTS: four whole numbers, valid,mutated,garbage,oversize');
  return { valid: valid!, mutated: mutated!, garbage: garbage!, oversize: oversize! };
}

const ms = (x: number): number => Math.round(x * 10) / 10;

export async function runHostileBenchmark(): Promise<BenchRecord[]> {
  const seed = Number(process.env['LARDER_BENCH_HOSTILE_SEED'] ?? '15');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'larder-bench-hostile-'));
  const outside = path.join(dir, 'outside');
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'canary.csv'), 'driver_id,event_timestamp\n1001,2026-01-01T00:00:00Z\n');
  const store = await startHostileStore(dir, HOSTILE_STORE_ENV);
  try {
    const started = performance.now();
    const report = await runHostile(store, outside, counts(), seededRandom(seed), (line) => process.stderr.write(`${line}\n`));
    const wallS = (performance.now() - started) / 1000;
    const records: BenchRecord[] = [
      ...report.attacks.map((a) => ({
        workload: `attack: ${a.attack}`,
        requests: 1,
        statuses: a.outcome,
        refused: a.expected.includes(a.outcome),
        health_checks: a.health.checks,
        worst_health_wall_ms: ms(a.health.worstWallMs),
        worst_health_loop_ms: ms(a.health.worstLoopMs),
      })),
      ...report.fuzz.map((p) => ({
        workload: `fuzz: ${p.phase}`,
        requests: p.requests,
        statuses: Object.entries(p.outcomes)
          .sort((a, b) => b[1] - a[1])
          .map(([name, n]) => `${name} ${n}`)
          .join(', '),
        health_checks: p.health.checks,
        worst_health_wall_ms: ms(p.health.worstWallMs),
        worst_health_loop_ms: ms(p.health.worstLoopMs),
      })),
    ];
    const total = summarize(report);
    records.push({
      workload: 'total',
      requests: total.requests,
      statuses: Object.entries(total.outcomes)
        .sort((a, b) => b[1] - a[1])
        .map(([name, n]) => `${name} ${n}`)
        .join(', '),
      refused: report.attacks.every((a) => a.expected.includes(a.outcome)),
      internal_or_hung: report.suspicious.length,
      health_checks: total.checks,
      not_serving: total.notServing,
      worst_health_wall_ms: ms(total.worstWallMs),
      worst_health_loop_ms: ms(total.worstLoopMs),
      changed_outside_roots: report.changedOutside.length,
      peak_rss_mib: Math.round(report.peakRssMiB),
      wall_s: Math.round(wallS * 10) / 10,
      seed,
    });
    for (const line of report.suspicious) process.stderr.write(`suspicious: ${line}\n`);
    return records;
  } finally {
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
