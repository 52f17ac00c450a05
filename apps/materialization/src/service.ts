import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createOnlineStore, onlineStoreConfig } from '@larder/online-store';
import { materializationV1 } from '@larder/proto';
import { RegistryClient } from '@larder/registry-client';
import { Code, implement, RpcError } from '@larder/rpc';
import type { RunServiceOptions } from '@larder/rpc';
import { materializationSchema } from './config';
import { openOfflineStore } from '@larder/offline-store';
import { JobManager } from './jobs';

/** The gRPC handlers over a job manager. */
export function materializationHandlers(jobs: JobManager, registryReady: () => boolean) {
  const ready = (): void => {
    if (!registryReady()) throw new RpcError(Code.UNAVAILABLE, 'no registry snapshot yet; retry shortly');
  };
  return implement(materializationV1.MaterializationService, {
    async materialize(request) {
      ready();
      return { job: await jobs.startRange(request) };
    },
    async materializeIncremental(request) {
      ready();
      return { job: await jobs.startIncremental(request) };
    },
    async getJob(request) {
      return { job: jobs.get(request.jobId) };
    },
    async listJobs(request) {
      return jobs.list({ project: request.project, states: request.states, featureView: request.featureView, pageSize: request.pageSize, pageToken: request.pageToken });
    },
    async cancelJob(request) {
      return { job: jobs.cancel(request.jobId) };
    },
    async *watchJob(request, ctx) {
      for await (const job of jobs.watch(request.jobId, ctx.signal)) yield { job };
    },
  });
}

/** How the materialization service is configured and built; main.ts runs it, `npm start` embeds it. */
export const materializationService: RunServiceOptions<typeof materializationSchema> = {
  name: 'materialization',
  schema: materializationSchema,
  setup: async ({ config, logger, clientSecurity }) => {
    if (config.onlineStore.type === 'sqlite' && config.onlineStore.path !== ':memory:') {
      mkdirSync(path.dirname(config.onlineStore.path), { recursive: true });
    }
    const online = createOnlineStore(onlineStoreConfig(config.onlineStore));
    const offline = await openOfflineStore(config.offlineStore);
    const project = config.materialization.project;
    const registry = new RegistryClient({ address: config.registry.address, logger, clientOptions: clientSecurity, maxMessageBytes: config.grpc.maxMessageBytes, ...(project !== '' && { project }) }).start();
    let ready = false;
    registry.onChange(() => {
      ready = true;
    });
    try {
      await registry.ready(config.registry.startupWait);
      ready = true;
    } catch {
      logger.warn('no registry snapshot yet; answering UNAVAILABLE until it arrives', { registry: config.registry.address });
    }
    const jobs = new JobManager({
      registry,
      offline,
      online,
      logger,
      defaultProject: project,
      shards: config.materialization.shards,
      leaseMs: config.materialization.leaseDuration,
      viewConcurrency: config.materialization.viewConcurrency,
      chunkRows: config.materialization.chunkRows,
      writesInFlight: config.materialization.writesInFlight,
      writeTimeoutMs: config.materialization.writeTimeout,
      jobHistory: config.materialization.jobHistory,
      maxFutureSkewMs: config.materialization.maxFutureSkew,
    });
    logger.info('stores open', {
      offline: config.offlineStore.type,
      online: config.onlineStore.type,
      ...(config.onlineStore.type === 'redis' ? { layout: config.onlineStore.redisLayout } : { path: config.onlineStore.path }),
    });
    return {
      // NOT_SERVING (and /readyz 503) while the registry copy cannot load or follow.
      services: [{ ...materializationHandlers(jobs, () => ready), readiness: registry }],
      // Running jobs are cancelled (their views' watermarks stay where they were) so the drain ends.
      drainHooks: [() => jobs.close()],
      closeHooks: [() => online.close(), () => offline.close(), () => registry.close()],
    };
  },
};
