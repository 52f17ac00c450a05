// `npm run bench` runs every benchmark; `npm run bench -- NAME` runs one.
// Each writes bench/results/NAME.json (an array of records) and prints a table.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatTable } from './table';
import type { BenchRecord } from './table';

type Benchmark = () => Promise<BenchRecord[]>;

const BENCHMARKS: Record<string, () => Promise<Benchmark>> = {
  registry: async () => (await import('./registry')).runRegistryBenchmark,
  ingest: async () => (await import('./ingest')).runIngestBenchmark,
  online: async () => (await import('./online')).runOnlineBenchmark,
  materialize: async () => (await import('./materialize')).runMaterializeBenchmark,
  historical: async () => (await import('./historical')).runHistoricalBenchmark,
  hostile: async () => (await import('./hostile')).runHostileBenchmark,
  ui: async () => (await import('./ui')).runUiBenchmark,
  auth: async () => (await import('./auth')).runAuthBenchmark,
  stats: async () => (await import('./stats')).runStatsBenchmark,
  python: async () => (await import('./python')).runPythonBenchmark,
  'vs-feast': async () => (await import('./vs-feast')).runVsFeastBenchmark,
  encoders: async () => (await import('./encoders')).runEncodersBenchmark,
};

async function main(): Promise<void> {
  const names = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
  const unknown = names.filter((name) => !(name in BENCHMARKS));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}\n`);
    process.exit(2);
  }
  for (const name of names.length > 0 ? names : Object.keys(BENCHMARKS)) {
    const load = BENCHMARKS[name] as () => Promise<Benchmark>;
    process.stdout.write(`== ${name}\n`);
    const records = await (await load())();
    const out = path.join(__dirname, 'results', `${name}.json`);
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(records, null, 2)}\n`);
    process.stdout.write(`${formatTable(records)}\nwrote ${path.relative(process.cwd(), out)}\n`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
