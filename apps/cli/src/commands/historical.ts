// `larder get-historical-features`: a training set from the offline-retrieval service.
// The join runs in the service's engine and the engine writes the output itself (a
// Parquet/CSV file on DuckDB, a table on PostgreSQL/BigQuery), so nothing row-sized
// passes through the CLI.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { create, toJson } from '@bufbuild/protobuf';
import { offlineV1, registryV1, tfmdV0 } from '@larder/proto';
import { Code, RpcError, createClient } from '@larder/rpc';
import { UsageError } from '../args';
import type { CommandContext } from '../command-spec';
import { repoConfig } from '../context';
import { clientSecurity } from '../security';
import { formatJson, formatTable } from '../output';
import { Progress } from '../progress';

const NAME = 'get-historical-features';
/** The service's default port (apps/offline-retrieval). */
const DEFAULT_ADDRESS = '127.0.0.1:6571';

type Engine = 'duckdb' | 'postgres' | 'bigquery';

const isFile = (target: string): boolean => /\.(parquet|csv)$/i.test(target) || target.includes('*');

function fileSource(target: string, cwd: string): registryV1.FileSource {
  const format = /\.csv$/i.test(target) ? registryV1.FileFormat.CSV : registryV1.FileFormat.PARQUET;
  return create(registryV1.FileSourceSchema, { path: path.resolve(cwd, target), format });
}

function entitySource(target: string, engine: Engine, cwd: string, timestampColumn: string, orderColumn: string): offlineV1.EntitySource {
  const location: offlineV1.EntitySource['location'] =
    isFile(target) || existsSync(path.resolve(cwd, target))
      ? { case: 'file', value: fileSource(target, cwd) }
      : engine === 'postgres'
        ? { case: 'postgres', value: create(registryV1.PostgresSourceSchema, { location: { case: 'table', value: target } }) }
        : engine === 'bigquery'
          ? { case: 'bigquery', value: create(registryV1.BigQuerySourceSchema, { location: { case: 'table', value: target } }) }
          : (() => {
              throw new UsageError(
                `--entities "${target}" is neither a .parquet/.csv file nor an existing path, and the offline store is DuckDB (which reads files)`,
                NAME,
              );
            })();
  return create(offlineV1.EntitySourceSchema, { location, timestampColumn, orderColumn });
}

function storage(target: string, engine: Engine, cwd: string): registryV1.DatasetStorage {
  if (isFile(target)) return create(registryV1.DatasetStorageSchema, { kind: { case: 'file', value: fileSource(target, cwd) } });
  if (engine === 'postgres') return create(registryV1.DatasetStorageSchema, { kind: { case: 'postgresTable', value: target } });
  if (engine === 'bigquery') return create(registryV1.DatasetStorageSchema, { kind: { case: 'bigqueryTable', value: target } });
  throw new UsageError(`--out "${target}": give a .parquet or .csv file (the offline store is DuckDB)`, NAME);
}

/** The `--out` forms each engine writes, as the CLI takes them. */
const OUT_FORMS: Readonly<Record<Engine, string>> = {
  duckdb: 'files: give --out FILE.parquet or --out FILE.csv',
  postgres: 'tables: give --out TABLE or --out SCHEMA.TABLE',
  bigquery: 'tables: give --out DATASET.TABLE or --out PROJECT.DATASET.TABLE',
};

/** Request fields the service names in its messages, and the flags that set them. */
const FLAGS_OF_FIELDS: readonly [RegExp, string][] = [
  [/\bquery\.destination\.overwrite\b/g, '--overwrite'],
  [/\bquery\.destination\.storage\b/g, '--out'],
  [/\bquery\.features\b/g, '--features'],
  [/\bentity_source\.timestamp_column\b/g, '--timestamp-column'],
  [/\bentity_source\.order_column\b/g, '--order-column'],
  [/\bentity_source\b/g, '--entities'],
];

/**
 * The service's message in the terms of this command: its flags instead of the request's
 * fields, and for a destination this deployment cannot write, the --out forms it can.
 */
function inFlagTerms(error: RpcError, at: { out: string; entities: string; address: string; engine: Engine }): RpcError {
  const exists = /^query\.destination\.storage: '(.*)' already exists; set query\.destination\.overwrite to replace it$/.exec(error.message);
  if (exists) return new RpcError(error.code, `--out ${at.out}: '${exists[1]}' already exists; pass --overwrite to replace it`, { cause: error });
  const wrong = /^query\.destination\.storage: (a [a-z_]+), but this service runs on (duckdb|postgres|bigquery)\b/.exec(error.message);
  if (wrong) {
    const engine = wrong[2] as Engine;
    const hint =
      engine === at.engine
        ? ''
        : `; the CLI assumed ${at.engine} (larder.yaml's offline_store.type): set it to ${engine} for table names to be sent as ${engine} tables`;
    return new RpcError(
      error.code,
      `--out ${at.out}: ${wrong[1]}, but the offline-retrieval service at ${at.address} runs on ${engine}, which writes ${OUT_FORMS[engine]}${hint}`,
      { cause: error },
    );
  }
  let message = error.message;
  for (const [field, flag] of FLAGS_OF_FIELDS) message = message.replace(field, flag);
  return message === error.message ? error : new RpcError(error.code, message, { cause: error });
}

export async function getHistoricalFeatures(ctx: CommandContext): Promise<number> {
  const flag = (name: string): string | undefined => ctx.flags[name] as string | undefined;
  const on = (name: string): boolean => (ctx.flags as Record<string, unknown>)[name] === true;
  const refs = flag('features');
  const service = flag('feature-service');
  if ((refs === undefined) === (service === undefined)) throw new UsageError('give exactly one of --features view:feature,… and --feature-service NAME', NAME);
  const entities = flag('entities');
  const out = flag('out');
  if (entities === undefined) throw new UsageError('--entities FILE|TABLE is required', NAME);
  if (out === undefined) throw new UsageError('--out FILE.parquet|FILE.csv|TABLE is required', NAME);
  const features =
    refs
      ?.split(',')
      .map((r) => r.trim())
      .filter((r) => r !== '') ?? [];
  if (refs !== undefined && features.length === 0) throw new UsageError('--features needs at least one view:feature ref', NAME);

  const repo = await repoConfig(ctx);
  const engine: Engine = repo?.offlineStore.type ?? 'duckdb';
  const address = flag('offline') ?? ctx.io.env['LARDER_OFFLINE_RETRIEVAL'] ?? repo?.services.offline_retrieval ?? DEFAULT_ADDRESS;
  const query = create(offlineV1.HistoricalQuerySchema, {
    project: ctx.flags.project ?? repo?.project ?? '',
    kind: service !== undefined ? { case: 'featureService', value: service } : { case: 'features', value: { val: features } },
    fullFeatureNames: on('full-feature-names'),
    destination: {
      storage: storage(out, engine, ctx.io.cwd),
      omitRows: true,
      overwrite: on('overwrite'),
      savedDatasetName: flag('saved-dataset') ?? '',
    },
    ...((on('validate') || on('fail-on-anomalies')) && { validation: { enabled: true, failOnAnomalies: on('fail-on-anomalies') } }),
  });
  const request = create(offlineV1.GetHistoricalFeaturesFromSourceRequestSchema, {
    query,
    entitySource: entitySource(entities, engine, ctx.io.cwd, flag('timestamp-column') ?? '', flag('order-column') ?? ''),
  });

  const client = createClient(offlineV1.OfflineRetrievalService, address, await clientSecurity(ctx));
  const progress = new Progress(ctx.io, ctx.flags.quiet !== true);
  try {
    let schema: offlineV1.ResultSchema | undefined;
    let summary: offlineV1.ResultSummary | undefined;
    await progress.step(
      `joining ${service !== undefined ? `feature service ${service}` : `${features.length} feature${features.length === 1 ? '' : 's'}`} onto ${entities}`,
      async () => {
        for await (const { part } of client.getHistoricalFeaturesFromSource(request)) {
          if (part.case === 'schema') schema = part.value;
          else if (part.case === 'summary') summary = part.value;
        }
      },
      () => `${summary?.rowCount ?? 0n} rows written to ${out}`,
    );
    const result = {
      rows: Number(summary?.rowCount ?? 0n),
      out,
      columns: schema?.columns.map((c) => c.name) ?? [],
      // Not in `columns` (its values travel apart on the wire), but a column of the output all the same.
      timestamp_column: schema?.timestampColumn ?? '',
      elapsed_s: summary?.elapsed ? Number(summary.elapsed.seconds) + summary.elapsed.nanos / 1e9 : 0,
      ...(summary?.savedDataset !== undefined && { saved_dataset: summary.savedDataset.name }),
      // A table has no row order: the service adds a column with each row's index.
      ...(summary !== undefined && summary.rowIndexColumn !== '' && { row_index_column: summary.rowIndexColumn }),
      ...(summary?.anomalies !== undefined && {
        anomalies: toJson(tfmdV0.AnomaliesSchema, { ...summary.anomalies, baselineSchema: { case: undefined } }, { useProtoFieldName: true }),
      }),
    };
    const anomalies = summary?.anomalies;
    const failed = anomalies !== undefined && Object.keys(anomalies.anomalyInfo).length > 0;
    if (ctx.flags.output === 'json') ctx.io.out(formatJson(result));
    else {
      const width = result.columns.length + (result.timestamp_column === '' ? 0 : 1) + (result.row_index_column === undefined ? 0 : 1);
      ctx.io.out(`Wrote ${result.rows} rows x ${width} columns to ${out}${result.saved_dataset ? ` (saved dataset '${result.saved_dataset}')` : ''}.\n`);
      ctx.io.out(
        `Columns: ${result.columns.join(', ')}` +
          (result.timestamp_column === '' ? '' : `; entity timestamp: ${result.timestamp_column}`) +
          (result.row_index_column === undefined ? '' : `; row index: ${result.row_index_column}`) +
          '\n',
      );
      if (anomalies !== undefined && !failed) ctx.io.out("Validation: the training set keeps its views' schemas.\n");
      if (failed) {
        const rows = Object.entries(anomalies.anomalyInfo)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([column, info]) => [column, info.reason.map((r) => tfmdV0.AnomalyInfo_Type[r.type] ?? String(r.type)).join(', '), info.description]);
        ctx.io.out(`Validation: the training set breaks its views' schemas:\n${formatTable(['COLUMN', 'ANOMALY', 'DESCRIPTION'], rows)}`);
      }
    }
    return failed ? 1 : 0;
  } catch (error) {
    if (error instanceof RpcError && error.code === Code.UNAVAILABLE) {
      throw new Error(
        `the offline-retrieval service at ${address} is unavailable (${error.message}); start it, or point --offline (or larder.yaml services.offline_retrieval) at one`,
      );
    }
    if (error instanceof RpcError) throw inFlagTerms(error, { out, entities, address, engine });
    throw error;
  } finally {
    client.close();
  }
}
