// `larder validate` and `larder infer-schema`: TFDV statistics (the bytes `larder stats
// --out` writes, or TFDV's own) checked against a view's TFDV schema, and a first schema
// proposed from statistics and written into the feature repo.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fromBinary, toJson } from '@bufbuild/protobuf';
import { tfmdV0 } from '@larder/proto';
import { UsageError } from '../args';
import type { CommandContext } from '../command-spec';
import { repoPath } from '../context';
import { formatJson, formatTable } from '../output';

async function readStatistics(ctx: CommandContext, file: string, flag: string, command: string): Promise<tfmdV0.DatasetFeatureStatistics> {
  const { singleDataset } = await import('@larder/validation');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path.resolve(ctx.io.cwd, file)));
  } catch (error) {
    throw new UsageError(`${flag} ${file}: ${(error as Error).message}`, command);
  }
  try {
    return singleDataset(fromBinary(tfmdV0.DatasetFeatureStatisticsListSchema, bytes));
  } catch (error) {
    throw new UsageError(`${flag} ${file}: not a TFDV DatasetFeatureStatisticsList with one dataset (${(error as Error).message})`, command);
  }
}

/** The schema: --schema FILE (text or binary), else --view's schema in the feature repo. */
async function schemaOf(ctx: CommandContext, command: string): Promise<tfmdV0.Schema> {
  const file = ctx.flags['schema'] as string | undefined;
  const view = ctx.flags['view'] as string | undefined;
  if (file !== undefined) {
    const { readSchema, schemaFormatOf, TextFormatError } = await import('@larder/validation');
    const absolute = path.resolve(ctx.io.cwd, file);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(absolute));
    } catch (error) {
      throw new UsageError(`--schema ${file}: ${(error as Error).message}`, command);
    }
    try {
      return readSchema(bytes, schemaFormatOf(file));
    } catch (error) {
      if (error instanceof TextFormatError) throw new UsageError(`${file}:${error.line}:${error.column}: ${error.reason}`, command);
      throw new UsageError(`--schema ${file}: not a TFDV schema (${(error as Error).message})`, command);
    }
  }
  if (view === undefined) throw new UsageError('give --view NAME (its schema in the feature repo) or --schema FILE', command);
  const { loadFeatureRepo } = await import('@larder/feature-repo');
  const { set } = await loadFeatureRepo(repoPath(ctx));
  const found = set.featureViews.find((v) => v.name === view);
  if (found === undefined) throw new UsageError(`the feature repo defines no feature view '${view}'`, command);
  const schema = found.validation?.schema;
  if (schema === undefined)
    throw new UsageError(
      `feature view '${view}' has no schema (validation.schema_file or validation.schema); propose one with larder infer-schema --view ${view} --stats FILE`,
      command,
    );
  return schema;
}

const typeName = (t: tfmdV0.AnomalyInfo_Type) => tfmdV0.AnomalyInfo_Type[t] ?? String(t);

export async function validate(ctx: CommandContext): Promise<number> {
  const NAME = 'validate';
  const statsFile = ctx.flags['stats'] as string | undefined;
  if (statsFile === undefined)
    throw new UsageError(
      "--stats FILE is required: the statistics to check (larder stats --out FILE writes them; TFDV's binary DatasetFeatureStatisticsList works too)",
      NAME,
    );
  const { validateStatistics, hasAnomalies } = await import('@larder/validation');
  const schema = await schemaOf(ctx, NAME);
  const stats = await readStatistics(ctx, statsFile, '--stats', NAME);
  const previousFile = ctx.flags['previous'] as string | undefined;
  const servingFile = ctx.flags['serving'] as string | undefined;
  const environment = ctx.flags['environment'] as string | undefined;
  const anomalies = validateStatistics(stats, schema, {
    ...(previousFile !== undefined && { previous: await readStatistics(ctx, previousFile, '--previous', NAME) }),
    ...(servingFile !== undefined && { serving: await readStatistics(ctx, servingFile, '--serving', NAME) }),
    ...(environment !== undefined && { environment }),
  });
  const outFile = ctx.flags['out'] as string | undefined;
  if (outFile !== undefined) {
    const { printTextFormat } = await import('@larder/validation');
    await writeFile(path.resolve(ctx.io.cwd, outFile), printTextFormat(tfmdV0.AnomaliesSchema, anomalies));
  }
  const failed = hasAnomalies(anomalies);
  if (ctx.flags.output === 'json') {
    // Without the baseline: the schema is the caller's own input.
    ctx.io.out(formatJson(toJson(tfmdV0.AnomaliesSchema, { ...anomalies, baselineSchema: { case: undefined } }, { useProtoFieldName: true })));
    return failed ? 1 : 0;
  }
  if (!failed) {
    ctx.io.out(`no anomalies: ${stats.features.length} features of ${stats.numExamples} examples keep the schema\n`);
    return 0;
  }
  const rows: string[][] = Object.entries(anomalies.anomalyInfo)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([feature, info]) => [
      feature,
      tfmdV0.AnomalyInfo_Severity[info.severity] ?? '',
      info.reason.map((r) => typeName(r.type)).join(', '),
      info.description,
    ]);
  if (anomalies.datasetAnomalyInfo !== undefined) {
    const info = anomalies.datasetAnomalyInfo;
    rows.push(['(dataset)', tfmdV0.AnomalyInfo_Severity[info.severity] ?? '', info.reason.map((r) => typeName(r.type)).join(', '), info.description]);
  }
  if (anomalies.dataMissing) rows.push(['(dataset)', 'ERROR', 'NO_DATA_IN_SPAN', 'The statistics describe no examples.']);
  ctx.io.out(formatTable(['FEATURE', 'SEVERITY', 'ANOMALY', 'DESCRIPTION'], rows));
  return 1;
}

export async function inferSchemaCommand(ctx: CommandContext): Promise<number> {
  const NAME = 'infer-schema';
  const statsFile = ctx.flags['stats'] as string | undefined;
  if (statsFile === undefined) throw new UsageError('--stats FILE is required (write one with larder stats --view NAME --start … --end … --out FILE)', NAME);
  const view = ctx.flags['view'] as string | undefined;
  const outFile = ctx.flags['out'] as string | undefined;
  if (view === undefined && outFile === undefined)
    throw new UsageError('give --view NAME (writes schemas/NAME.pbtxt into the repo and points the view at it) or --out FILE', NAME);
  const maxDomain = ctx.flags['max-domain-size'] as string | undefined;
  const maxStringDomainSize = maxDomain === undefined ? undefined : Number(maxDomain);
  if (maxStringDomainSize !== undefined && !(Number.isInteger(maxStringDomainSize) && maxStringDomainSize >= 0 && maxStringDomainSize <= 100_000)) {
    throw new UsageError(`--max-domain-size "${maxDomain}": an integer from 0 to 100000`, NAME);
  }
  const { inferSchema, schemaToText } = await import('@larder/validation');
  const stats = await readStatistics(ctx, statsFile, '--stats', NAME);
  const schema = inferSchema(stats, maxStringDomainSize === undefined ? {} : { maxStringDomainSize });
  if (view === undefined) {
    await writeFile(path.resolve(ctx.io.cwd, outFile as string), schemaToText(schema));
    if (ctx.flags.output === 'json') ctx.io.out(formatJson({ schemaFile: outFile, features: schema.feature.length }));
    else ctx.io.out(`wrote ${outFile}: ${schema.feature.length} features\n`);
    return 0;
  }
  const { adoptSchema } = await import('@larder/feature-repo');
  const result = await adoptSchema(repoPath(ctx), view, schema, outFile === undefined ? {} : { schemaFile: outFile });
  if (ctx.flags.output === 'json') {
    ctx.io.out(formatJson({ ...result, features: schema.feature.length }));
    return 0;
  }
  ctx.io.out(`wrote ${result.schemaFile}: ${schema.feature.length} features\n`);
  if (result.linked)
    ctx.io.out(`${result.definitionFile}: feature view '${view}' now has validation.schema_file: ${result.schemaFile} (review it, then larder apply)\n`);
  else ctx.io.out(`${result.hint ?? ''}\n`);
  return 0;
}
