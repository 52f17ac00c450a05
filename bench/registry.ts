// Registry benchmark: apply of 500 feature views x 10 features into the file
// store and into PostgreSQL, and a plan / apply of the same repo with one change.
// Target (DESIGN.md): apply <= 3 s.
import { create } from '@bufbuild/protobuf';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { registryV1, typesV1 } from '@larder/proto';
import { openRegistryStore } from '@larder/registry-store';
import type { RegistryStore } from '@larder/registry-store';
import { startPostgres } from '@larder/testing';
import type { BenchRecord } from './table';

const VIEWS = 500;
const FEATURES = 10;
const RUNS = 5;

/** A feature repo of `views` views over 5 entities and 10 sources, as a larder apply sends it. */
function repo(views: number, changedTtlView?: number): registryV1.ApplyRegistryRequest {
  const T = typesV1.ValueType;
  const types = [T.DOUBLE, T.INT64, T.FLOAT, T.STRING, T.BOOL];
  return create(registryV1.ApplyRegistryRequestSchema, {
    project: 'bench',
    prune: true,
    entities: Array.from({ length: 5 }, (_, i) => ({ name: `entity_${i}`, joinKey: `entity_${i}_id`, valueType: T.INT64 })),
    dataSources: Array.from({ length: 10 }, (_, i) => ({
      name: `source_${i}`,
      timestampField: 'event_timestamp',
      kind: { case: 'file' as const, value: { path: `data/source_${i}.parquet`, format: registryV1.FileFormat.PARQUET } },
    })),
    featureViews: Array.from({ length: views }, (_, v) => ({
      name: `view_${v}`,
      entities: [`entity_${v % 5}`],
      batchSource: `source_${v % 10}`,
      ttl: { seconds: BigInt(v === changedTtlView ? 7200 : 86_400) },
      owner: 'bench@example.com',
      description: `benchmark view ${v}`,
      tags: { team: `team_${v % 7}`, tier: 'gold' },
      schema: Array.from({ length: FEATURES }, (_, f) => ({
        name: `feature_${f}`,
        valueType: types[f % types.length] as typesV1.ValueType,
        description: `feature ${f} of view ${v}`,
        tags: { pii: f === 0 ? 'true' : 'false' },
      })),
    })),
  });
}

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const round = (s: number): number => Math.round(s * 1000) / 1000;

interface Backend {
  name: string;
  /** A new, empty registry. */
  open(run: number): Promise<RegistryStore>;
  /** How big the stored registry is, when that means something. */
  size?(): Promise<number>;
}

async function measure(backend: Backend): Promise<BenchRecord[]> {
  const full = repo(VIEWS);
  const oneChange = repo(VIEWS, 250);
  const planOnly = repo(VIEWS, 250);
  planOnly.planOnly = true;
  const times: Record<string, number[]> = { apply: [], plan: [], applyChange: [], unchanged: [] };
  for (let run = 0; run < RUNS; run++) {
    const store = await backend.open(run);
    try {
      times.apply?.push(await seconds(() => store.apply(full)));
      times.plan?.push(
        await seconds(async () => {
          const res = await store.apply(planOnly);
          const updates = res.diffs.filter((d) => d.change === registryV1.ChangeType.UPDATE);
          if (res.applied || updates.length !== 1) throw new Error(`plan should find one update, found ${updates.length}`);
        }),
      );
      times.unchanged?.push(await seconds(() => store.apply(full)));
      times.applyChange?.push(await seconds(() => store.apply(oneChange)));
      const version = await store.version();
      if (version.version !== 2n) throw new Error(`expected version 2 after the runs, got ${version.version}`);
    } finally {
      await store.close();
    }
  }
  const size = backend.size === undefined ? undefined : await backend.size();
  const rec = (workload: string, list: number[] | undefined): BenchRecord => ({
    workload: `${workload}-${backend.name}`,
    views: VIEWS,
    features: VIEWS * FEATURES,
    runs: RUNS,
    wall_s: round(median(list ?? [])),
    min_s: round(Math.min(...(list ?? []))),
    // The first run pays for JIT warm-up and connection set-up, as a one-shot `larder apply` does.
    first_s: round(list?.[0] ?? 0),
    ...(size !== undefined && workload === 'apply-500-views' && { file_mb: Math.round((size / 2 ** 20) * 10) / 10 }),
  });
  return [
    rec('apply-500-views', times.apply),
    rec('plan-one-change', times.plan),
    rec('reapply-unchanged', times.unchanged),
    rec('apply-one-change', times.applyChange),
  ];
}

export async function runRegistryBenchmark(): Promise<BenchRecord[]> {
  const records: BenchRecord[] = [];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-bench-registry-'));
  try {
    let file = '';
    records.push(
      ...(await measure({
        name: 'file',
        open: async (run) => {
          file = path.join(dir, `registry-${run}.json`);
          return openRegistryStore(file, { file: { watch: false } });
        },
        size: async () => (await stat(file)).size,
      })),
    );

    // Loading the registry the runs left behind, as the CLI or a restarted service does.
    const loads: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      loads.push(
        await seconds(async () => {
          const store = await openRegistryStore(file, { file: { watch: false } });
          await store.close();
        }),
      );
    }
    records.push({
      workload: 'open-500-views-file',
      views: VIEWS,
      features: VIEWS * FEATURES,
      runs: RUNS,
      wall_s: round(median(loads)),
      min_s: round(Math.min(...loads)),
    });

    process.stdout.write('starting PostgreSQL...\n');
    const postgres = await startPostgres();
    try {
      records.push(
        ...(await measure({
          name: 'postgres',
          open: (run) => openRegistryStore(`${postgres.url}?schema=bench_${run}`),
        })),
      );
    } finally {
      await postgres.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  records.push({ workload: 'process', peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) });
  return records;
}
