// Several materialization replicas sharing one registry service (backed by
// the file store, then by PostgreSQL): the views' leases keep two runs apart
// across replicas, a dead replica's lease expires and is taken over, and the
// shards of one run, each on its own replica, complete the run together.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { DuckDBOfflineStore } from '@larder/offline-store';
import type { OfflineStore } from '@larder/offline-store';
import { createOnlineStore } from '@larder/online-store';
import type { OnlineStore, ViewDescriptor } from '@larder/online-store';
import { materializationV1, registryV1 } from '@larder/proto';
import { Code, RpcError, createClient } from '@larder/rpc';
import type { RpcClient, ServerHandle } from '@larder/rpc';
import { freePort, rpcRejection as rejection, runInProcess, startLarderApp, testServices, waitUntil } from '@larder/testing';
import { Client } from 'pg';
import { registryService } from '@larder/registry-service';
import { compareWithHistorical } from './consistency';
import { materializationService } from './service';
import { BASE, MINUTE, driverSource, flagsDescriptor, historicalView, repo, statsDescriptor, ts, watchToEnd, writeParquet } from './testing';

const S = materializationV1.JobState;
const M = registryV1.MaterializationStatus;
const ROWS = 40_000;
const DRIVERS = 20_000;
const END = new Date(BASE + 240 * MINUTE);
const driverIds = Array.from({ length: DRIVERS }, (_, i) => BigInt(i));
type Jobs = RpcClient<typeof materializationV1.MaterializationService>;

jest.setTimeout(120_000);

const BASE_ENV = { LARDER_LOG_LEVEL: 'warn', LARDER_SHUTDOWN_GRACE_PERIOD: '5s' };

interface Cluster {
  dir: string;
  /** One project per test, so that each starts from views never materialized. */
  projects: string[];
  registryAddress: string;
  registry: RpcClient<typeof registryV1.RegistryService>;
  /** Env every replica gets: the registry, the shared Redis, DuckDB. */
  replicaEnv: Record<string, string>;
  /** An in-process replica; closed with the cluster. */
  replica(env?: Record<string, string>): Promise<Jobs>;
  state(project: string, view: string): Promise<registryV1.MaterializationState>;
  store: OnlineStore;
  close(): Promise<void>;
}

type RegistryBackend = 'file' | 'postgres';

async function startCluster(backend: RegistryBackend): Promise<Cluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-replicas-'));
  const projects = Array.from({ length: 4 }, () => `p${randomBytes(4).toString('hex')}`);
  const schema = `replicas_${randomBytes(5).toString('hex')}`;
  let location = path.join(dir, 'registry.json');
  if (backend === 'postgres') {
    const url = new URL(testServices().postgres.url);
    url.searchParams.set('schema', schema);
    location = url.toString();
  }
  const registryHandle = await runInProcess(registryService, { ...BASE_ENV, LARDER_REGISTRY_LOCATION: location });
  const registry = createClient(registryV1.RegistryService, registryHandle.address);
  for (const project of projects) {
    const source = { case: 'file', value: { path: path.join(dir, 'driver.parquet'), format: registryV1.FileFormat.PARQUET } } as registryV1.DataSource['kind'];
    await registry.applyRegistry(repo(project, source));
  }
  await writeParquet(path.join(dir, 'driver.parquet'), ROWS, DRIVERS);
  const redisUrl = testServices().redis.url;
  const replicaEnv = {
    LARDER_REGISTRY_ADDRESS: registryHandle.address,
    LARDER_ONLINE_STORE_TYPE: 'redis',
    LARDER_REDIS_URL: redisUrl,
    LARDER_REDIS_LAYOUT: 'packed',
    LARDER_OFFLINE_STORE_TYPE: 'duckdb',
    LARDER_OFFLINE_READ_ROOTS: dir,
  };
  const handles: ServerHandle[] = [];
  const clients: Jobs[] = [];
  const store = createOnlineStore({ type: 'redis', url: redisUrl, layout: 'packed' });
  return {
    dir,
    projects,
    registryAddress: registryHandle.address,
    registry,
    replicaEnv,
    store,
    async replica(env = {}) {
      const handle = await runInProcess(materializationService, { ...BASE_ENV, ...replicaEnv, ...env });
      handles.push(handle);
      const client = createClient(materializationV1.MaterializationService, handle.address);
      clients.push(client);
      return client;
    },
    async state(project, view) {
      return (await registry.getMaterializationState({ project, featureViews: [view] })).states[0]!;
    },
    async close() {
      for (const c of clients) c.close();
      await Promise.all(handles.map((h) => h.shutdown('test over')));
      registry.close();
      await registryHandle.shutdown('test over');
      await store.close();
      await rm(dir, { recursive: true, force: true });
      if (backend === 'postgres') {
        const client = new Client({ connectionString: testServices().postgres.url });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => client.end());
      }
    },
  };
}

/** Starts a job, retrying while the view is refused (a lease still held), for at most `withinMs`. */
async function startWhenFree(start: () => Promise<materializationV1.Job>, withinMs: number): Promise<{ job: materializationV1.Job; refusals: RpcError[] }> {
  const refusals: RpcError[] = [];
  let job: materializationV1.Job | undefined;
  let failure: unknown;
  await waitUntil(
    async () => {
      try {
        job = await start();
      } catch (error) {
        if (!(error instanceof RpcError) || error.code !== Code.FAILED_PRECONDITION) failure = error;
        else refusals.push(error);
      }
      return job !== undefined || failure !== undefined;
    },
    { what: 'the view free to materialize (a lease still held)', timeoutMs: withinMs, intervalMs: 200 },
  );
  if (failure !== undefined || job === undefined) throw failure;
  return { job, refusals };
}

describe.each([['file'], ['postgres']] as const)('replicas sharing a %s-backed registry', (backend) => {
  let cluster: Cluster;
  let offline: OfflineStore;

  beforeAll(async () => {
    cluster = await startCluster(backend);
    offline = await DuckDBOfflineStore.create();
  }, 60_000);
  afterAll(async () => {
    await offline?.close();
    await cluster?.close();
  });

  const reference = (d: ViewDescriptor, ttlMs: number) =>
    historicalView(driverSource({ kind: 'file', path: path.join(cluster.dir, 'driver.parquet'), format: 'parquet' }), d, ttlMs);

  it('a second run on the same view, on another replica, is refused while the first holds the lease', async () => {
    const project = cluster.projects[0]!;
    // One-row chunks make the first job slow enough to still hold the view.
    const a = await cluster.replica({ LARDER_MATERIALIZATION_CHUNK_ROWS: '1', LARDER_MATERIALIZATION_WRITES_IN_FLIGHT: '1' });
    const b = await cluster.replica();
    const first = (await a.materialize({ project: project, featureViews: ['driver_flags'], startTime: ts(new Date(BASE)), endTime: ts(END) })).job!;
    const refused = await rejection(b.materialize({ project: project, featureViews: ['driver_flags'], startTime: ts(new Date(BASE)), endTime: ts(END) }));
    expect(refused.code).toBe(Code.FAILED_PRECONDITION);
    expect(refused.message).toContain("feature view 'driver_flags'");
    expect(refused.message).toContain(first.id);
    expect(refused.message).toMatch(/lease expires at \d{4}-\d\d-\d\dT/);
    // Other views are free.
    const other = (await b.materialize({ project: project, featureViews: ['driver_stats'], startTime: ts(new Date(BASE)), endTime: ts(END) })).job!;
    expect((await watchToEnd(b, other.id)).state).toBe(S.SUCCEEDED);
    expect(await cluster.state(project, 'driver_flags')).toMatchObject({ leaseRunId: first.id, lastJobStatus: M.RUNNING });

    await a.cancelJob({ jobId: first.id });
    expect((await watchToEnd(a, first.id)).state).toBe(S.CANCELLED);
    // The cancel released the lease at once: the other replica's run is accepted.
    const second = (await b.materialize({ project: project, featureViews: ['driver_flags'], startTime: ts(new Date(BASE)), endTime: ts(END) })).job!;
    const done = await watchToEnd(b, second.id);
    expect(done.error).toBe('');
    expect(done.state).toBe(S.SUCCEEDED);
    expect(await cluster.state(project, 'driver_flags')).toMatchObject({ lastJobId: second.id, lastJobStatus: M.SUCCEEDED });
  });

  it("a killed replica's lease expires and another replica takes the view over", async () => {
    const project = cluster.projects[1]!;
    const doomed = await startLarderApp({
      app: 'materialization',
      env: {
        ...cluster.replicaEnv,
        LARDER_METRICS_ENABLED: 'false',
        LARDER_MATERIALIZATION_LEASE_DURATION: '2s',
        LARDER_MATERIALIZATION_CHUNK_ROWS: '1',
        LARDER_MATERIALIZATION_WRITES_IN_FLIGHT: '1',
      },
    });
    const doomedJobs = createClient(materializationV1.MaterializationService, doomed.address);
    const before = await cluster.state(project, 'driver_stats');
    let killedJob: materializationV1.Job | undefined;
    try {
      const { job } = await doomedJobs.materializeIncremental({ project: project, featureViews: ['driver_stats'], endTime: ts(END) });
      // Kill it (no graceful shutdown, no release) once it is writing.
      for await (const update of doomedJobs.watchJob({ jobId: job!.id }, { timeoutMs: 60_000 })) {
        if (update.job!.views[0]!.rowsWritten > 0n) {
          killedJob = update.job!;
          process.kill(-doomed.pid, 'SIGKILL');
          break;
        }
      }
    } catch (error) {
      // The stream breaks when the process dies under it.
      if (killedJob === undefined) throw error;
    } finally {
      doomedJobs.close();
    }
    expect(killedJob?.state).toBe(S.RUNNING);
    expect((await doomed.exited).signal).toBe('SIGKILL');

    const b = await cluster.replica();
    const began = Date.now();
    const { job, refusals } = await startWhenFree(
      async () => (await b.materializeIncremental({ project: project, featureViews: ['driver_stats'], endTime: ts(END) })).job!,
      10_000,
    );
    // Refused until the dead replica's 2 s lease ran out, then taken over.
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals[0]!.message).toContain(killedJob!.id);
    expect(Date.now() - began).toBeLessThan(6_000);
    // The dead job never reported success: the taken-over window starts at the old watermark.
    expect(job.views[0]!.startTime).toEqual(before.watermark ?? ts(new Date(END.getTime() - 120 * MINUTE)));
    const done = await watchToEnd(b, job.id);
    expect(done.state).toBe(S.SUCCEEDED);
    const after = await cluster.state(project, 'driver_stats');
    expect(after).toMatchObject({ lastJobId: job.id, lastJobStatus: M.SUCCEEDED });
    expect(timestampDate(after.watermark!)).toEqual(END);
  });

  it('two shards of one run on two replicas write every entity once; the watermark advances after both', async () => {
    const project = cluster.projects[2]!;
    const a = await cluster.replica();
    // Replica b also splits its shard into two local streams: 4 hash ranges in all.
    const b = await cluster.replica({ LARDER_MATERIALIZATION_SHARDS: '2' });
    const runId = `run-${randomBytes(3).toString('hex')}`;
    const view = 'driver_flags';
    const before = await cluster.state(project, view);
    const request = (shardIndex: number) => ({ project: project, featureViews: [view], endTime: ts(END), shardIndex, shardCount: 2, runId });

    const shard0 = (await a.materializeIncremental(request(0))).job!;
    expect(shard0).toMatchObject({ runId, shardIndex: 0, shardCount: 2 });
    // A different run is refused while run's shards hold the view; a shard of the same run is not.
    const intruder = await rejection(b.materializeIncremental({ project: project, featureViews: [view], endTime: ts(END) }));
    expect(intruder.code).toBe(Code.FAILED_PRECONDITION);
    expect(intruder.message).toContain(`run ${runId}`);
    const shard1 = (await b.materializeIncremental(request(1))).job!;
    expect(shard1).toMatchObject({ runId, shardIndex: 1, shardCount: 2 });
    expect(shard1.views[0]!.startTime).toEqual(shard0.views[0]!.startTime);

    const done0 = await watchToEnd(a, shard0.id);
    expect(done0.state).toBe(S.SUCCEEDED);
    const done1 = await watchToEnd(b, shard1.id);
    expect(done1.state).toBe(S.SUCCEEDED);
    expect(done1.views[0]!.shardCount).toBe(2);
    expect(done1.views[0]!.shardsCompleted).toBe(2);

    const read = done0.views[0]!.rowsRead + done1.views[0]!.rowsRead;
    const written = done0.views[0]!.rowsWritten + done1.views[0]!.rowsWritten;
    expect(done0.views[0]!.rowsRead).toBeGreaterThan(0n);
    expect(done1.views[0]!.rowsRead).toBeGreaterThan(0n);
    const start = timestampDate(shard0.views[0]!.startTime!);
    const flags = await compareWithHistorical(
      offline,
      cluster.store,
      reference(flagsDescriptor(project), END.getTime() - start.getTime()),
      flagsDescriptor(project),
      driverIds,
      END,
    );
    expect(flags.mismatches.slice(0, 5)).toEqual([]);
    // Each entity read and written by exactly one shard.
    expect(read).toBe(BigInt(flags.present));
    expect(written).toBe(BigInt(flags.present));
    const after = await cluster.state(project, view);
    expect(after.lastJobStatus).toBe(M.SUCCEEDED);
    expect(timestampDate(after.watermark!)).toEqual(END);
    expect(before.watermark === undefined || timestampDate(before.watermark) < END).toBe(true);
  });

  it('the watermark waits for the last shard; a failed shard leaves it, and rerunning that shard completes the run', async () => {
    const project = cluster.projects[3]!;
    const a = await cluster.replica();
    // A replica whose online store is down: its shard fails.
    const broken = await cluster.replica({ LARDER_REDIS_URL: `redis://127.0.0.1:${await freePort()}`, LARDER_MATERIALIZATION_WRITE_TIMEOUT: '1s' });
    const runId = `run-${randomBytes(3).toString('hex')}`;
    const view = 'driver_stats';
    const end = END;
    const before = await cluster.state(project, view);
    const request = (shardIndex: number) => ({ project: project, featureViews: [view], endTime: ts(end), shardIndex, shardCount: 2, runId });

    const shard0 = await watchToEnd(a, (await a.materializeIncremental(request(0))).job!.id);
    expect(shard0.state).toBe(S.SUCCEEDED);
    // One shard done: the view is still RUNNING for the run and its watermark has not moved.
    let state = await cluster.state(project, view);
    expect(state).toMatchObject({ lastJobStatus: M.RUNNING, runShardsSucceeded: [0], leaseRunId: runId });
    expect(state.watermark).toEqual(before.watermark);

    const failed = await watchToEnd(broken, (await broken.materializeIncremental(request(1))).job!.id);
    expect(failed.state).toBe(S.FAILED);
    expect(failed.error).toMatch(/redis/i);
    state = await cluster.state(project, view);
    expect(state.lastJobStatus).toBe(M.FAILED);
    expect(state.watermark).toEqual(before.watermark);

    // The rerun of the failed shard, on the healthy replica, under the same run: same window, and the run completes.
    const rerun = await watchToEnd(a, (await a.materializeIncremental(request(1))).job!.id);
    expect(rerun.state).toBe(S.SUCCEEDED);
    expect(rerun.views[0]!.startTime).toEqual(shard0.views[0]!.startTime);
    expect(rerun.views[0]!.rowsRead).toBeGreaterThan(0n);
    state = await cluster.state(project, view);
    expect(state.lastJobStatus).toBe(M.SUCCEEDED);
    expect(timestampDate(state.watermark!)).toEqual(end);
    const stats = await compareWithHistorical(
      offline,
      cluster.store,
      reference(statsDescriptor(project), 120 * MINUTE),
      statsDescriptor(project),
      driverIds,
      end,
    );
    expect(stats.mismatches.slice(0, 5)).toEqual([]);
  });
});
