// Top functions of a V8 CPU profile (node --cpu-prof), optionally only the samples taken
// in a CLOCK_MONOTONIC window, as the vs-feast bench prints per case with
// LARDER_BENCH_VS_FEAST_PROFILE_DIR (V8 stamps samples with the same clock). Self time
// per function, and per file for a coarser view.
//   npx tsx bench/profile-top.ts FILE.cpuprofile [FROM_US TO_US] [N]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, from, to, top] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write('usage: profile-top.ts FILE.cpuprofile [FROM_US TO_US] [N]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const lo = from === undefined ? -Infinity : Number(from);
const hi = to === undefined ? Infinity : Number(to);
const n = Number(top ?? 25);
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const fn = new Map<string, number>();
const files = new Map<string, number>();
let t = profile.startTime;
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const delta = profile.timeDeltas[i] ?? 0;
  t += delta;
  if (t < lo || t > hi) continue;
  const frame = byId.get(profile.samples[i]!)!.callFrame;
  const where = frame.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/work\/main\//, '');
  const name = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
  fn.set(name, (fn.get(name) ?? 0) + delta);
  const key = where === '' ? frame.functionName : where;
  files.set(key, (files.get(key) ?? 0) + delta);
  total += delta;
}
const print = (title: string, table: Map<string, number>): void => {
  process.stdout.write(`${title} (of ${(total / 1000).toFixed(0)} ms sampled)\n`);
  for (const [name, us] of [...table].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    process.stdout.write(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}\n`);
  }
};
print('self time by function', fn);
print('self time by file', files);
