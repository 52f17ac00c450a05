// The hostile client (issue 15): the store as `npm start` runs it, attacked the ways the
// issue lists (paths, client SQL, CEL bombs, oversize and slow HTTP bodies, year-9999
// times, a 100 kB echo, a foreign Kafka broker) and fuzzed on every gRPC method of every
// service (descriptor-built messages, damaged ones, garbage, 17 MiB), from a fixed seed.
// Each attack must be refused with its status; no input gets INTERNAL; health answers
// SERVING throughout without the event loop being held 100 ms; no file outside the roots
// changes; the process stays up with bounded peak memory.
// `npm run bench -- hostile` runs the same with larger counts and records the figures.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seededRandom } from '@larder/testing';
import { HOSTILE_STORE_ENV } from './hostile/attacks';
import { fuzzTargets } from './hostile/fuzz';
import { runHostile, summarize } from './hostile/run';
import type { HostileReport } from './hostile/run';
import { startHostileStore } from './hostile/store';
import type { HostileStore } from './hostile/store';

jest.setTimeout(240_000);

const SEED = 15;
const COUNTS = { valid: 8, mutated: 8, garbage: 4, oversize: 1 };
/** The whole store (five services, DuckDB, SQLite) after the attacks; it idles near 200 MiB. */
const PEAK_RSS_LIMIT_MIB = 768;

const dir = mkdtempSync(path.join(os.tmpdir(), 'larder-hostile-'));
const outside = path.join(dir, 'outside');
let store: HostileStore | undefined;
let report: HostileReport;

beforeAll(async () => {
  // Files the store must never read into an answer nor write: beside its root, not under it.
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'canary.csv'), 'driver_id,event_timestamp\n1001,2026-01-01T00:00:00Z\n');
  writeFileSync(path.join(outside, 'notes.txt'), 'precious\n');
  store = await startHostileStore(dir, HOSTILE_STORE_ENV);
  report = await runHostile(store, outside, COUNTS, seededRandom(SEED), (line) => process.stderr.write(`H15 ${line}\n`));
  const total = summarize(report);
  process.stderr.write(
    `H15 total: ${total.requests} requests ${JSON.stringify(total.outcomes)}; ${total.checks} health checks, worst ` +
      `${total.worstWallMs.toFixed(1)} ms wall / ${total.worstLoopMs.toFixed(1)} ms loop; peak RSS ` +
      `${report.peakRssMiB.toFixed(0)} MiB\n`,
  );
});

afterAll(async () => {
  await store?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('every targeted attack is refused with its status', () => {
  const got = report.attacks.map((a) => [a.attack, a.expected.includes(a.outcome) ? 'refused' : `${a.outcome} (expected ${a.expected.join(' or ')})`]);
  expect(got).toEqual(report.attacks.map((a) => [a.attack, 'refused']));
});

test('every method of every service was fuzzed, and no input got INTERNAL, UNKNOWN or a unary call hanging to its deadline', () => {
  const methods = fuzzTargets().flatMap(({ service }) => service.methods.map((m) => `${service.typeName}/${m.name}`));
  expect(methods.length).toBeGreaterThan(30);
  expect(report.fuzz.map((p) => p.phase)).toEqual(methods);
  for (const phase of report.fuzz)
    expect([phase.phase, phase.requests]).toEqual([phase.phase, COUNTS.valid + COUNTS.mutated + COUNTS.garbage + COUNTS.oversize]);
  expect(report.suspicious).toEqual([]);
});

test('a message over 16 MiB is RESOURCE_EXHAUSTED on every method', () => {
  expect(report.fuzz.filter((p) => (p.outcomes['RESOURCE_EXHAUSTED'] ?? 0) < COUNTS.oversize).map((p) => p.phase)).toEqual([]);
});

test('health answered SERVING throughout, and no Check waited 100 ms on the event loop', () => {
  const phases = [...report.attacks.map((a) => ({ name: a.attack, health: a.health })), ...report.fuzz.map((p) => ({ name: p.phase, health: p.health }))];
  expect(phases.filter((p) => p.health.checks === 0).map((p) => p.name)).toEqual([]);
  expect(phases.filter((p) => p.health.notServing > 0).map((p) => p.name)).toEqual([]);
  expect(phases.filter((p) => p.health.worstLoopMs >= 100).map((p) => `${p.name}: ${p.health.worstLoopMs.toFixed(1)} ms`)).toEqual([]);
});

test('no file outside the roots changed, and the store is up with bounded peak memory', () => {
  expect(report.changedOutside).toEqual([]);
  expect(report.alive).toBe(true);
  expect(report.peakRssMiB).toBeLessThan(PEAK_RSS_LIMIT_MIB);
});
