// How the client's RowBatch size affects an inline retrieval on BigQuery: the same
// entity rows sent in batches of 7 and in one batch, over real gRPC, against the
// emulator (started here). Usage: npx tsx apps/offline-retrieval/src/scripts/inline-batches.ts [rows] [small batch]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { BigQuery } from '@google-cloud/bigquery';
import { offlineV1, registryV1, typesV1 } from '@larder/proto';
import { createClient } from '@larder/rpc';
import { runInProcess, startBigQueryEmulator } from '@larder/testing';
import { registryService } from '@larder/registry-service';
import { offlineRetrievalService } from '../service';

const T = typesV1.ValueType;
const T0 = Date.UTC(2024, 0, 1);

async function main(): Promise<void> {
  const rows = Number(process.argv[2] ?? 20_000);
  const small = Number(process.argv[3] ?? 7);
  const emulator = await startBigQueryEmulator();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-inline-batches-'));
  const bigquery = new BigQuery({ apiEndpoint: emulator.endpoint, projectId: emulator.projectId });
  await bigquery.createDataset('features');
  const [table] = await bigquery.dataset('features').createTable('customers', {
    schema: {
      fields: [
        { name: 'customer_id', type: 'STRING' },
        { name: 'ts', type: 'TIMESTAMP' },
        { name: 'segment', type: 'STRING' },
      ],
    },
  });
  await table.insert(Array.from({ length: 50 }, (_, i) => ({ customer_id: `c${i}`, ts: new Date(T0).toISOString(), segment: `s${i % 5}` })));
  const env = { LARDER_LOG_LEVEL: 'warn', LARDER_METRICS_ENABLED: 'false' };
  const registryHandle = await runInProcess(registryService, { ...env, LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json') });
  const registry = createClient(registryV1.RegistryService, registryHandle.address);
  await registry.applyRegistry({
    project: 'bench',
    entities: [{ name: 'customer', joinKey: 'customer_id', valueType: T.STRING }],
    dataSources: [
      {
        name: 'customers',
        timestampField: 'ts',
        kind: { case: 'bigquery', value: { location: { case: 'table', value: `${emulator.projectId}.features.customers` } } },
      },
    ],
    featureViews: [{ name: 'profile', entities: ['customer'], batchSource: 'customers', schema: [{ name: 'segment', valueType: T.STRING }] }],
  });
  const retrievalHandle = await runInProcess(offlineRetrievalService, {
    ...env,
    LARDER_REGISTRY_ADDRESS: registryHandle.address,
    LARDER_OFFLINE_STORE_TYPE: 'bigquery',
    LARDER_BIGQUERY_API_ENDPOINT: emulator.endpoint,
    LARDER_BIGQUERY_PROJECT: emulator.projectId,
  });
  const retrieval = createClient(offlineV1.OfflineRetrievalService, retrievalHandle.address);
  async function* requests(batch: number): AsyncGenerator<offlineV1.GetHistoricalFeaturesRequest> {
    yield create(offlineV1.GetHistoricalFeaturesRequestSchema, {
      message: { case: 'query', value: { kind: { case: 'features', value: { val: ['profile:segment'] } } } },
    });
    for (let start = 0; start < rows; start += batch) {
      const n = Math.min(batch, rows - start);
      const ids = Array.from({ length: n }, (_, i) => create(typesV1.ValueSchema, { val: { case: 'stringVal', value: `c${(start + i) % 60}` } }));
      yield create(offlineV1.GetHistoricalFeaturesRequestSchema, {
        message: {
          case: 'entityRows',
          value: { columns: { customer_id: { val: ids } }, eventTimestamps: ids.map((_, i) => timestampFromMs(T0 + (start + i) * 1000)) },
        },
      });
    }
  }
  try {
    for (const batch of [small, rows]) {
      const started = performance.now();
      let out = 0;
      for await (const { part } of retrieval.getHistoricalFeatures(requests(batch))) if (part.case === 'summary') out = Number(part.value.rowCount);
      process.stdout.write(`${rows} rows in batches of ${batch}: ${((performance.now() - started) / 1000).toFixed(1)} s (${out} rows back)\n`);
    }
  } finally {
    retrieval.close();
    registry.close();
    await retrievalHandle.shutdown('done');
    await registryHandle.shutdown('done');
    await emulator.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  },
);
