// Test harness: the real registry and offline-retrieval services in-process on port 0, over real gRPC.
// The caller passes the two service definitions (a lib never imports an app).
import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampDate, timestampFromMs } from '@bufbuild/protobuf/wkt';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cellToValue } from '@larder/offline-store';
import { offlineV1, registryV1 } from '@larder/proto';
import type { typesV1 } from '@larder/proto';
import { createClient, RpcError } from '@larder/rpc';
import type { RpcClient, RunServiceOptions, ServerConfigSchema } from '@larder/rpc';
import { runInProcess } from '@larder/testing';
import type { SourceKind, Table, TestData } from './dataset';
import type { TestEngine } from './engines';

export interface Harness {
  project: string;
  registry: RpcClient<typeof registryV1.RegistryService>;
  retrieval: RpcClient<typeof offlineV1.OfflineRetrievalService>;
  /** The retrieval service's gRPC address (for health probes). */
  retrievalAddress: string;
  close(): Promise<void>;
}

/** The services a harness runs, as their apps define them. */
export interface RetrievalServices<R extends ServerConfigSchema, O extends ServerConfigSchema> {
  registry: RunServiceOptions<R>;
  retrieval: RunServiceOptions<O>;
}

export async function startRetrievalHarness<R extends ServerConfigSchema, O extends ServerConfigSchema>(
  services: RetrievalServices<R, O>,
  engineEnv: Record<string, string>,
  repo: (project: string) => registryV1.ApplyRegistryRequest,
  env: Record<string, string> = {},
): Promise<Harness> {
  const { registry: registryService, retrieval: offlineRetrievalService } = services;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-retrieval-'));
  const project = `p${Math.random().toString(36).slice(2, 10)}`;
  const logs: string[] = [];
  const base = { LARDER_LOG_LEVEL: 'warn' };
  const registryHandle = await runInProcess(registryService, { ...base, LARDER_REGISTRY_LOCATION: path.join(dir, 'registry.json') }, logs);
  const registry = createClient(registryV1.RegistryService, registryHandle.address);
  await registry.applyRegistry(repo(project));
  const retrievalHandle = await runInProcess(offlineRetrievalService, { ...base, LARDER_REGISTRY_ADDRESS: registryHandle.address, ...engineEnv, ...env }, logs);
  const retrieval = createClient(offlineV1.OfflineRetrievalService, retrievalHandle.address);
  return {
    project,
    registry,
    retrieval,
    retrievalAddress: retrievalHandle.address,
    async close() {
      retrieval.close();
      registry.close();
      await retrievalHandle.shutdown('test over');
      await registryHandle.shutdown('test over');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// The offline store's own cell -> Value conversion, for tests that build expected answers.
export { cellToValue };

/** The query message, then the entity table's rows in RowBatches of batchRows. */
export async function* inlineRequests(
  query: MessageInitShape<typeof offlineV1.HistoricalQuerySchema>,
  entities: Table,
  batchRows = 50,
  columns = entities.columns.map((c) => c.name),
): AsyncGenerator<offlineV1.GetHistoricalFeaturesRequest> {
  yield create(offlineV1.GetHistoricalFeaturesRequestSchema, { message: { case: 'query', value: query } });
  const kept = entities.columns.filter((c) => c.name !== 'event_timestamp' && columns.includes(c.name));
  for (let start = 0; start < entities.rows.length; start += batchRows) {
    const rows = entities.rows.slice(start, start + batchRows);
    yield create(offlineV1.GetHistoricalFeaturesRequestSchema, {
      message: {
        case: 'entityRows',
        value: {
          columns: Object.fromEntries(kept.map((c) => [c.name, { val: rows.map((r) => cellToValue(c.type, r[c.name] ?? null)) }])),
          eventTimestamps: rows.map((r) => timestampFromMs((r['event_timestamp'] as Date).getTime())),
        },
      },
    });
  }
}

/** A Value back to a comparable JS value (null for no value). */
export function plain(value: typesV1.Value): unknown {
  const v = value.val;
  if (v.case === undefined || v.case === 'nullVal') return null;
  if (v.case === 'unixTimestampVal') return new Date(Number(v.value) * 1000);
  if (typeof v.value === 'object' && v.value !== null && 'val' in v.value) return [...(v.value as { val: unknown[] }).val];
  return v.value;
}

export interface Collected {
  schema: offlineV1.ResultSchema;
  rows: Record<string, unknown>[];
  chunkSizes: number[];
  summary: offlineV1.ResultSummary;
}

/** Drains a result stream, checking its shape (schema first, chunks in order, summary last). */
export async function collect(
  parts: AsyncIterable<offlineV1.GetHistoricalFeaturesResponse | offlineV1.GetHistoricalFeaturesFromSourceResponse>,
): Promise<Collected> {
  let schema: offlineV1.ResultSchema | undefined;
  let summary: offlineV1.ResultSummary | undefined;
  const rows: Record<string, unknown>[] = [];
  const chunkSizes: number[] = [];
  for await (const { part } of parts) {
    if (summary !== undefined) throw new Error('a message after the summary');
    if (part.case === 'schema') {
      if (schema !== undefined) throw new Error('two schemas');
      schema = part.value;
    } else if (part.case === 'chunk') {
      if (schema === undefined) throw new Error('a chunk before the schema');
      const chunk = part.value;
      if (Number(chunk.firstRow) !== rows.length) throw new Error(`chunk starts at ${chunk.firstRow}, expected ${rows.length}`);
      const n = chunk.eventTimestamps.length;
      chunkSizes.push(n);
      for (let r = 0; r < n; r++) {
        const row: Record<string, unknown> = { [schema.timestampColumn]: timestampDate(chunk.eventTimestamps[r]!) };
        schema.columns.forEach((c, i) => (row[c.name] = plain(chunk.columns[i]!.val[r]!)));
        rows.push(row);
      }
    } else if (part.case === 'summary') summary = part.value;
  }
  if (schema === undefined || summary === undefined) throw new Error('stream without schema or summary');
  return { schema, rows, chunkSizes, summary };
}

/** The RpcError a call fails with; fails the test if it succeeds or throws anything else. */
export async function rpcError(work: () => Promise<unknown>): Promise<RpcError> {
  try {
    await work();
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

/** The four feature-repo sources loaded into an engine. */
export async function loadSources(engine: TestEngine, data: TestData): Promise<Record<'driver' | 'customer' | 'pair' | 'global', SourceKind>> {
  return {
    driver: await engine.load(data.tables.driver),
    customer: await engine.load(data.tables.customer),
    pair: await engine.load(data.tables.pair),
    global: await engine.load(data.tables.global),
  };
}
