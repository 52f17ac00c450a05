import { create } from '@bufbuild/protobuf';
import { offlineV1, statisticsV1, wire } from '@larder/proto';
import { followPermissions, principalOf, startServiceAuth } from '@larder/auth';
import { RegistryClient } from '@larder/registry-client';
import { RetrievalAccess, StatisticsAccess } from './enforce';
import { implement } from '@larder/rpc';
import type { RunServiceOptions } from '@larder/rpc';
import { offlineRetrievalSchema } from './config';
import { bigqueryClient, openOfflineStore } from '@larder/offline-store';
import { inlineEntities, sourceEntities } from './entities';
import type { EntityStats } from './entities';
import { offlineErrorMappings } from './errors';
import { OfflineRetrieval } from './retrieval';
import { StatisticsRecords } from './statistics-records';
import { StatisticsRpc } from './statistics-service';
import type { RetrievalRegistry } from './retrieval';
import { bindHost, Code, ConfigError, RpcError } from '@larder/rpc';

/** RegistryClient as retrieval needs it: the copy, plus the two rpcs it makes. */
function retrievalRegistry(client: RegistryClient): RetrievalRegistry {
  return {
    get version() {
      return client.version;
    },
    registrySet: (project) => client.registrySet(project),
    projectNames: () => client.projectNames(),
    latestVersion: async () => (await client.service.getRegistryVersion({}, { timeoutMs: 2_000 })).version,
    waitForVersion: (version, timeoutMs) => client.waitForVersion(version, timeoutMs),
    async saveDataset(project, dataset) {
      await client.service.applyRegistry({ project, savedDatasets: [dataset] });
      return (await client.service.getSavedDataset({ project, name: dataset.name })).savedDataset ?? dataset;
    },
  };
}

/** How the offline-retrieval service is configured and built; main.ts runs it, `npm start` embeds it. */
export const offlineRetrievalService: RunServiceOptions<typeof offlineRetrievalSchema> = {
  name: 'offline-retrieval',
  schema: offlineRetrievalSchema,
  setup: async ({ config, logger, clientSecurity }) => {
    if (config.offlineStore.type === 'bigquery') {
      // Inline entity rows go to scratch tables; make sure their dataset exists.
      const dataset = config.offlineStore.bigqueryDataset;
      try {
        await bigqueryClient(config.offlineStore).dataset(dataset).get({ autoCreate: true });
      } catch (error) {
        if (error instanceof ConfigError) throw error;
        const reason = String((error as { message?: unknown } | null)?.message ?? error).split('\n')[0];
        throw new Error(
          `cannot open the BigQuery scratch dataset '${dataset}' (offlineStore.bigqueryDataset): ${reason}. ` +
            'Set offlineStore.bigqueryProject (LARDER_BIGQUERY_PROJECT) and Google credentials (GOOGLE_APPLICATION_CREDENTIALS), ' +
            'or offlineStore.bigqueryApiEndpoint (LARDER_BIGQUERY_API_ENDPOINT) for an emulator',
          { cause: error },
        );
      }
    }
    const auth = startServiceAuth({
      service: 'offline-retrieval',
      auth: config.auth,
      hosts: [bindHost(config.grpc.host, config), bindHost(config.metrics.host, config)],
      clientCaFile: config.tls.clientCaFile,
      logger,
    });
    const store = await openOfflineStore(config.offlineStore, { poolSize: 8 });
    const client = new RegistryClient({
      address: config.registry.address,
      logger,
      clientOptions: clientSecurity,
      maxMessageBytes: config.grpc.maxMessageBytes,
      ...(config.retrieval.project !== '' && { project: config.retrieval.project }),
    }).start();
    let ready = false;
    client.onChange(() => {
      ready = true;
    });
    try {
      await client.ready(config.registry.startupWait);
      ready = true;
    } catch {
      logger.warn('no registry snapshot yet; answering UNAVAILABLE until it arrives', { registry: config.registry.address });
    }
    const authorizer = followPermissions(client, auth.authenticator.enabled);
    const access = new RetrievalAccess(client, authorizer, auth.audit, config.retrieval.project);
    const retrieval = new OfflineRetrieval(retrievalRegistry(client), store, {
      defaultProject: config.retrieval.project,
      maxRowsPerChunk: config.retrieval.maxRowsPerChunk,
      maxChunkBytes: config.retrieval.maxChunkBytes,
      registryReady: () => ready,
      onDemandRowCost: config.retrieval.onDemandRowCost,
      onDemandRequestCost: config.retrieval.onDemandRequestCost,
    });
    const statistics = new StatisticsRpc(
      {
        get version() {
          return client.version;
        },
        registrySet: (project) => client.registrySet(project),
        projectNames: () => client.projectNames(),
      },
      store,
      await StatisticsRecords.open(config.statistics.directory),
      config.retrieval.project,
    );
    const statisticsAccess = new StatisticsAccess(client, authorizer, auth.audit, config.retrieval.project);
    logger.info('offline store open', { type: config.offlineStore.type });
    return {
      services: [
        implement(
          statisticsV1.StatisticsService,
          {
            computeStatistics: (request, ctx) => {
              statisticsAccess.compute(principalOf(ctx), request, ctx.requestId);
              return statistics.compute(request, ctx.signal);
            },
            listStatistics: async (request, ctx) => statisticsAccess.list(principalOf(ctx), await statistics.list(request)),
            getStatistics: async (request, ctx) => statisticsAccess.get(principalOf(ctx), request, await statistics.get(request)),
          },
          { readiness: client },
        ),
        implement(
          offlineV1.OfflineRetrievalService,
          {
            async *getHistoricalFeatures(requests, ctx) {
              const iterator = requests[Symbol.asyncIterator]();
              const first = await iterator.next();
              if (first.done === true || first.value.message.case !== 'query') {
                throw new RpcError(Code.INVALID_ARGUMENT, 'query: the first message must carry the query; entity rows follow it');
              }
              const stats: EntityStats = { rows: 0, minTs: undefined, maxTs: undefined };
              const query = first.value.message.value;
              const principal = principalOf(ctx);
              const saves = access.check(principal, query, ctx.requestId);
              const parts = retrieval.retrieve(
                query,
                (plan) => inlineEntities(iterator, [...plan.resolved.entityColumns, ...plan.resolved.requestFields], stats, query.entityColumns),
                stats,
                ctx,
              );
              for await (const part of parts) yield create(offlineV1.GetHistoricalFeaturesResponseSchema, { part });
              access.saved(principal, saves, ctx.requestId);
            },
            async *getHistoricalFeaturesFromSource(request, ctx) {
              if (request.query === undefined) throw new RpcError(Code.INVALID_ARGUMENT, 'query: required');
              const stats: EntityStats = { rows: 0, minTs: undefined, maxTs: undefined };
              const entitySource = request.entitySource;
              const principal = principalOf(ctx);
              const saves = access.check(principal, request.query, ctx.requestId);
              const parts = retrieval.retrieve(request.query, async () => sourceEntities(store.engine, entitySource), stats, ctx);
              for await (const part of parts) yield create(offlineV1.GetHistoricalFeaturesFromSourceResponseSchema, { part });
              access.saved(principal, saves, ctx.requestId);
            },
          },
          {
            // Result chunks are most of a streamed training set's bytes; protobuf-es's reflective
            // toBinary held streaming to ~13k rows/s (11 columns).
            encoders: { getHistoricalFeatures: wire.encodeHistoricalResponse, getHistoricalFeaturesFromSource: wire.encodeHistoricalResponse },
            // NOT_SERVING (and /readyz 503) while the registry copy cannot load or follow.
            readiness: client,
          },
        ),
      ],
      interceptors: [auth.interceptor],
      errorMappings: offlineErrorMappings(),
      ...(auth.metricsGuard !== undefined && { metricsGuard: auth.metricsGuard }),
      closeHooks: [() => store.close(), () => client.close(), () => auth.close()],
    };
  },
};
