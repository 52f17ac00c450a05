// One hostile run against a store already started: the targeted attacks, then fuzz for
// every method, with health watched during each and the files outside the roots compared
// before and after. The suite (hostile.spec.ts) asserts on the report; the benchmark
// (bench/hostile.ts) runs it with larger counts and records it.
import { codeName } from '@larder/rpc';
import { ATTACKS } from './attacks';
import { callRaw, fuzzTargets, mutate, newRawClient, randomBytes, randomMessage } from './fuzz';
import type { Outcome } from './fuzz';
import { peakRssMiB } from './store';
import type { HostileStore } from './store';
import { snapshotTree, watchHealth } from './watch';
import type { HealthFigures } from './watch';

export interface FuzzCounts {
  /** Messages built from the method's descriptor, sent as they are. */
  valid: number;
  /** The same, damaged. */
  mutated: number;
  /** Random bytes. */
  garbage: number;
  /** Messages over the servers' 16 MiB limit. */
  oversize: number;
}

export interface PhaseReport {
  phase: string;
  requests: number;
  outcomes: Record<string, number>;
  health: HealthFigures;
}

export interface AttackReport {
  attack: string;
  outcome: string;
  expected: readonly string[];
  health: HealthFigures;
}

export interface HostileReport {
  attacks: AttackReport[];
  fuzz: PhaseReport[];
  /** Calls that answered INTERNAL or UNKNOWN, or whose unary call met our deadline: method, kind of input, seed index. */
  suspicious: string[];
  /** Files outside the roots that changed, appeared or went away. */
  changedOutside: string[];
  peakRssMiB: number;
  alive: boolean;
}

const OVERSIZE_BYTES = 17 * 1024 * 1024;
const STREAM_DEADLINE_MS = 1_000;

/** 17 MiB of one random byte: the servers refuse it by its length prefix, so its content does not matter (and costs no time to make). */
function oversize(random: () => number): Uint8Array {
  return Buffer.alloc(OVERSIZE_BYTES, Math.floor(random() * 256));
}

function outcomeName(outcome: Outcome): string {
  return outcome === 'STREAMING' ? 'STREAMING' : codeName(outcome);
}

function diff(before: Record<string, string>, after: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => before[k] !== after[k]).sort();
}

/**
 * Runs every attack and the fuzz. `outside` is a folder outside the store's roots whose
 * files must not change; `random` the seeded generator (so a report can be replayed).
 */
export async function runHostile(
  store: HostileStore,
  outside: string,
  counts: FuzzCounts,
  random: () => number,
  log: (line: string) => void = () => undefined,
): Promise<HostileReport> {
  const healthAddresses = Object.values(store.grpc);
  const before = snapshotTree(outside);
  const report: HostileReport = { attacks: [], fuzz: [], suspicious: [], changedOutside: [], peakRssMiB: 0, alive: true };

  for (const attack of ATTACKS) {
    const watch = watchHealth(healthAddresses, store.pid);
    await watch.ready;
    let outcome: string;
    try {
      outcome = await attack.run(store, outside);
    } catch (error) {
      outcome = `threw ${error instanceof Error ? error.message : String(error)}`;
    }
    const health = await watch.stop();
    report.attacks.push({ attack: attack.name, outcome, expected: attack.expected, health });
    log(`attack ${attack.name}: ${outcome}; health worst ${health.worstWallMs.toFixed(1)} ms wall, ${health.worstLoopMs.toFixed(1)} ms loop`);
  }

  for (const { service, on } of fuzzTargets()) {
    const client = newRawClient(store.grpc[on]);
    for (const method of service.methods) {
      const watch = watchHealth(healthAddresses, store.pid);
      await watch.ready;
      const outcomes: Record<string, number> = {};
      let requests = 0;
      const send = async (kind: string, index: number, bytes: Uint8Array): Promise<void> => {
        // A watch with nothing to say stays open: streams get a short deadline, meeting it is no fault.
        const outcome = await callRaw(client, method, bytes, method.methodKind === 'unary' ? 5_000 : STREAM_DEADLINE_MS);
        const name = outcomeName(outcome);
        outcomes[name] = (outcomes[name] ?? 0) + 1;
        requests++;
        const hung = name === 'DEADLINE_EXCEEDED' && method.methodKind === 'unary';
        if (name === 'INTERNAL' || name === 'UNKNOWN' || hung) report.suspicious.push(`${service.typeName}/${method.name} ${kind} #${index}: ${name}`);
      };
      for (let i = 0; i < counts.valid; i++) await send('valid', i, randomMessage(method.input, random));
      for (let i = 0; i < counts.mutated; i++) await send('mutated', i, mutate(randomMessage(method.input, random), random));
      for (let i = 0; i < counts.garbage; i++) await send('garbage', i, randomBytes(random, 1 + Math.floor(random() * 256)));
      for (let i = 0; i < counts.oversize; i++) await send('oversize', i, oversize(random));
      const health = await watch.stop();
      const phase = `${service.typeName}/${method.name}`;
      report.fuzz.push({ phase, requests, outcomes, health });
      log(
        `fuzz ${phase}: ${requests} requests ${JSON.stringify(outcomes)}; health worst ${health.worstWallMs.toFixed(1)} ms wall, ${health.worstLoopMs.toFixed(1)} ms loop`,
      );
    }
    client.close();
  }

  report.changedOutside = diff(before, snapshotTree(outside));
  report.alive = store.alive();
  report.peakRssMiB = report.alive ? peakRssMiB(store.pid) : NaN;
  return report;
}

/** Totals of a report: requests, outcomes by name, worst health latencies. */
export function summarize(report: HostileReport): {
  requests: number;
  outcomes: Record<string, number>;
  worstWallMs: number;
  worstLoopMs: number;
  checks: number;
  notServing: number;
} {
  const outcomes: Record<string, number> = {};
  let requests = 0;
  for (const phase of report.fuzz) {
    requests += phase.requests;
    for (const [name, n] of Object.entries(phase.outcomes)) outcomes[name] = (outcomes[name] ?? 0) + n;
  }
  const healths = [...report.fuzz.map((p) => p.health), ...report.attacks.map((a) => a.health)];
  return {
    requests: requests + report.attacks.length,
    outcomes,
    worstWallMs: Math.max(...healths.map((h) => h.worstWallMs)),
    worstLoopMs: Math.max(...healths.map((h) => h.worstLoopMs)),
    checks: healths.reduce((n, h) => n + h.checks, 0),
    notServing: healths.reduce((n, h) => n + h.notServing, 0),
  };
}
