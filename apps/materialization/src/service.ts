import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createOnlineStore, onlineStoreConfig } from '@larder/online-store';
import { materializationV1 } from '@larder/proto';
import { RegistryClient } from '@larder/registry-client';
import { bindHost, Code, implement, RpcError } from '@larder/rpc';
import type { HandlerContext } from '@larder/rpc';
import { followPermissions, principalOf, startServiceAuth } from '@larder/auth';
import type { Principal } from '@larder/auth';
import { JobAccess } from './enforce';
import type { RunServiceOptions } from '@larder/rpc';
import { materializationSchema } from './config';
import { openOfflineStore } from '@larder/offline-store';
import { JobManager } from './jobs';

/** The gRPC handlers over a job manager; with `access`, each call checked against the caller's permissions. */
export function materializationHandlers(jobs: JobManager, registryReady: () => boolean, access?: JobAccess) {
  const ready = (): void => {
    if (!registryReady()) throw new RpcError(Code.UNAVAILABLE, 'no registry snapshot yet; retry shortly');
  };
  const caller = (ctx: HandlerContext): Principal | undefined => (access === undefined ? undefined : principalOf(ctx));
  const start = async (request: { project: string; featureViews: readonly string[] }, ctx: HandlerContext, run: () => Promise<materializationV1.Job>) => {
    ready();
    const principal = caller(ctx);
    const checks = principal === undefined ? [] : (access?.start(principal, request, ctx.requestId) ?? []);
    const job = await run();
    if (principal !== undefined) access?.started(principal, checks, job, ctx.requestId);
    return { job };
  };
  const seen = (job: materializationV1.Job, ctx: HandlerContext, action: 'describe' | 'materialize'): materializationV1.Job => {
    const principal = caller(ctx);
    return principal === undefined || access === undefined ? job : access.job(principal, action, job, ctx.requestId);
  };
  return implement(materializationV1.MaterializationService, {
    materialize: (request, ctx) => start(request, ctx, () => jobs.startRange(request)),
    materializeIncremental: (request, ctx) => start(request, ctx, () => jobs.startIncremental(request)),
    async getJob(request, ctx) {
      return { job: seen(jobs.get(request.jobId), ctx, 'describe') };
    },
    async listJobs(request, ctx) {
      const page = jobs.list({
        project: request.project,
        states: request.states,
        featureView: request.featureView,
        pageSize: request.pageSize,
        pageToken: request.pageToken,
      });
      const principal = caller(ctx);
      return principal === undefined || access === undefined ? page : { ...page, jobs: access.visible(principal, page.jobs) };
    },
    async cancelJob(request, ctx) {
      seen(jobs.get(request.jobId), ctx, 'materialize');
      const job = jobs.cancel(request.jobId);
      const principal = caller(ctx);
      if (principal !== undefined)
        access?.audit.write({
          identity: principal.id,
          action: 'materialize',
          objects: [`job ${job.id}`],
          outcome: 'success',
          reason: 'cancel',
          requestId: ctx.requestId,
        });
      return { job };
    },
    async *watchJob(request, ctx) {
      seen(jobs.get(request.jobId), ctx, 'describe');
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
    const auth = startServiceAuth({
      service: 'materialization',
      auth: config.auth,
      hosts: [bindHost(config.grpc.host, config), bindHost(config.metrics.host, config)],
      clientCaFile: config.tls.clientCaFile,
      logger,
    });
    const online = createOnlineStore(onlineStoreConfig(config.onlineStore));
    const offline = await openOfflineStore(config.offlineStore);
    const project = config.materialization.project;
    const registry = new RegistryClient({
      address: config.registry.address,
      logger,
      clientOptions: clientSecurity,
      maxMessageBytes: config.grpc.maxMessageBytes,
      ...(project !== '' && { project }),
    }).start();
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
      services: [
        {
          ...materializationHandlers(
            jobs,
            () => ready,
            new JobAccess(registry, followPermissions(registry, auth.authenticator.enabled), auth.audit, project, config.materialization.jobHistory),
          ),
          readiness: registry,
        },
      ],
      interceptors: [auth.interceptor],
      ...(auth.metricsGuard !== undefined && { metricsGuard: auth.metricsGuard }),
      // Running jobs are cancelled (their views' watermarks stay where they were) so the drain ends.
      drainHooks: [() => jobs.close()],
      closeHooks: [() => online.close(), () => offline.close(), () => registry.close(), () => auth.close()],
    };
  },
};
