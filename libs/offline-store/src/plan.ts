// Engine-independent checks and naming for a point-in-time query: which stored
// column feeds which role, and the errors when one is missing or mistyped.
import { typesV1 } from '@larder/proto';
import { describeType, familyOf, fits, isList, valueTypeOf } from './cells';
import type { EngineColumnType } from './cells';
import { ColumnTypeError, DuplicateColumnError, InvalidRequestError, JoinKeyTypeError, MissingColumnError, OfflineStoreError } from './errors';
import type { BatchSource, FeatureSpec, HistoricalView, JoinKeySpec, ResultColumn, SourceCheck, SourceProblem, SourceUse } from './types';

/** A column as the engine describes it; `type` undefined when no ValueType fits. */
export interface DescribedColumn {
  name: string;
  engineType: string;
  type: EngineColumnType | undefined;
}

export type Described = ReadonlyMap<string, DescribedColumn>;

export function describedMap(columns: readonly DescribedColumn[]): Described {
  return new Map(columns.map((c) => [c.name, c]));
}

/** The stored column that the view-level name refers to (field mapping reversed). */
export function storedName(source: BatchSource, name: string): string {
  for (const [stored, mapped] of Object.entries(source.fieldMapping ?? {})) {
    if (mapped === name) return stored;
  }
  return name;
}

export interface SourceColumns {
  ts: string;
  created: string | undefined;
  /** Stored column per join key, in the order given. */
  keys: { stored: string; spec: JoinKeySpec }[];
  features: { stored: string; spec: FeatureSpec; output: string }[];
  /** Whether ts needs a cast to the engine's plain timestamp type. */
  tsIsPlain: boolean;
  /** The same for created (true when there is none). */
  createdIsPlain: boolean;
}

/** A problem with a source, and the error a query would raise for it. */
export interface SourceColumnProblem {
  about: SourceProblem['about'];
  error: OfflineStoreError;
}

/**
 * Every mismatch between a source's columns and what a view needs from it; the
 * columns to read when there is none.
 */
export function sourceColumnProblems(
  source: BatchSource,
  described: Described,
  keys: readonly JoinKeySpec[],
  features: readonly FeatureSpec[],
  plainTimestamp: (engineType: string) => boolean,
): { columns: SourceColumns | undefined; problems: SourceColumnProblem[] } {
  const relation = `source '${source.name}'`;
  const available = [...described.keys()];
  const problems: SourceColumnProblem[] = [];
  const need = (stored: string, role: string, about: SourceProblem['about']): DescribedColumn | undefined => {
    const column = described.get(stored);
    if (!column) problems.push({ about, error: new MissingColumnError(relation, stored, role, available) });
    return column;
  };
  const timestampLike = (column: DescribedColumn, role: string, about: SourceProblem['about']): boolean => {
    if (column.type?.family === 'timestamp' && !column.type.list) return true;
    problems.push({ about, error: new ColumnTypeError(relation, column.name, role, column.engineType, 'a timestamp') });
    return false;
  };
  const typed = (spec: JoinKeySpec | FeatureSpec, role: string, about: SourceProblem['about']): DescribedColumn | undefined => {
    const column = need(storedName(source, spec.name), role, about);
    if (column && (!column.type || !fits(spec.type, column.type))) {
      problems.push({ about, error: new ColumnTypeError(relation, column.name, role, column.engineType, describeType(spec.type)) });
      return undefined;
    }
    return column;
  };
  let ts: DescribedColumn | undefined;
  if (source.timestampField === '') {
    problems.push({
      about: { kind: 'timestamp_field' },
      error: new InvalidRequestError(`source '${source.name}'.timestamp_field`, 'is empty; name the event-time column'),
    });
  } else {
    ts = need(source.timestampField, 'timestamp_field', { kind: 'timestamp_field' });
    if (ts && !timestampLike(ts, 'timestamp_field', { kind: 'timestamp_field' })) ts = undefined;
  }
  let created: DescribedColumn | undefined;
  if (source.createdTimestampColumn) {
    const column = need(source.createdTimestampColumn, 'created_timestamp_column', { kind: 'created_timestamp_column' });
    if (column && timestampLike(column, 'created_timestamp_column', { kind: 'created_timestamp_column' })) created = column;
  }
  const keyColumns = keys.map((spec) => ({ column: typed(spec, `join key '${spec.name}'`, { kind: 'join_key', name: spec.name }), spec }));
  const featureColumns = features.map((spec) => ({ column: typed(spec, `feature '${spec.name}'`, { kind: 'feature', name: spec.name }), spec }));
  if (problems.length > 0 || !ts) return { columns: undefined, problems };
  return {
    columns: {
      ts: ts.name,
      created: created?.name,
      keys: keyColumns.map(({ column, spec }) => ({ stored: column!.name, spec })),
      features: featureColumns.map(({ column, spec }) => ({ stored: column!.name, spec, output: spec.outputName ?? spec.name })),
      tsIsPlain: plainTimestamp(ts.engineType),
      createdIsPlain: created === undefined || plainTimestamp(created.engineType),
    },
    problems,
  };
}

/** Checks a source's columns against what a view needs from it; throws the first problem. */
export function checkSource(
  source: BatchSource,
  described: Described,
  keys: readonly JoinKeySpec[],
  features: readonly FeatureSpec[],
  plainTimestamp: (engineType: string) => boolean,
): SourceColumns {
  const { columns, problems } = sourceColumnProblems(source, described, keys, features, plainTimestamp);
  if (problems[0]) throw problems[0].error;
  return columns!;
}

/**
 * OfflineStore.verifySource over an engine's describe: a relation that cannot be
 * described is the one finding, otherwise each view's column problems.
 */
export async function sourceCheck(
  describe: () => Promise<readonly DescribedColumn[]>,
  source: BatchSource,
  views: readonly SourceUse[],
  plainTimestamp: (engineType: string) => boolean,
): Promise<SourceCheck> {
  let described: Described;
  try {
    described = describedMap(await describe());
  } catch (error) {
    // Any failure to read the relation is the finding (a missing table, an unreadable file);
    // the engine's first line says what, without the statement around it.
    const first = String((error as { message?: unknown } | null)?.message ?? error).split('\n')[0]!;
    return { relation: error instanceof OfflineStoreError ? error.message : `source '${source.name}': ${first}`, views: [] };
  }
  return {
    relation: undefined,
    views: views.map((view) =>
      sourceColumnProblems(source, described, view.joinKeys, view.features, plainTimestamp).problems.map((p) => ({ about: p.about, message: p.error.message })),
    ),
  };
}

export interface ViewPlan extends SourceColumns {
  view: HistoricalView;
  ttlMs: number;
  /** Entity column per join key (join-key map applied). */
  entityKeys: string[];
}

/** Internal column names inside generated SQL; user names never reach these. */
export const ROW = '__larder_row';
export const TS = '__larder_ts';

export interface EntityPlan {
  /** Output columns of the entity rows, in their order. */
  columns: ResultColumn[];
  timestampColumn: string;
}

/**
 * Checks every view against the entity rows and the other views, and returns
 * the output schema's feature columns in request order.
 */
export function planViews(
  views: readonly HistoricalView[],
  entity: EntityPlan,
  sources: readonly SourceColumns[],
): { plans: ViewPlan[]; features: ResultColumn[] } {
  if (views.length === 0) throw new InvalidRequestError('views', 'no feature views requested');
  const names = new Map<string, string>();
  for (const column of entity.columns) names.set(column.name, `is an entity column`);
  const byName = new Map(entity.columns.map((c) => [c.name, c]));
  const features: ResultColumn[] = [];
  const plans = views.map((view, i) => {
    const ttlMs = view.ttlMs ?? 0;
    if (!Number.isInteger(ttlMs) || ttlMs < 0) throw new InvalidRequestError(`views[${i}].ttl`, `must be a whole number of milliseconds >= 0, got ${ttlMs}`);
    const source = sources[i]!;
    const entityKeys = view.joinKeys.map((key) => {
      const column = key.entityColumn ?? key.name;
      const entityColumn = byName.get(column);
      if (!entityColumn || entityColumn.role === 'timestamp') {
        throw new MissingColumnError(
          'the entity rows',
          column,
          `join key '${key.name}' of view '${view.name}'`,
          entity.columns.map((c) => c.name),
        );
      }
      if (!fits(key.type, { family: familyOf(entityColumn.type), list: isList(entityColumn.type) })) {
        throw new JoinKeyTypeError(view.name, key.name, column, describeType(key.type), describeType(entityColumn.type));
      }
      entityColumn.role = 'join_key';
      return column;
    });
    for (const feature of source.features) {
      const previous = names.get(feature.output);
      if (previous)
        throw new DuplicateColumnError(
          feature.output,
          `of view '${view.name}' ${previous.startsWith('is') ? 'collides with an entity column' : `collides with ${previous}`}`,
        );
      names.set(feature.output, `feature '${feature.spec.name}' of view '${view.name}'`);
      features.push({ name: feature.output, type: feature.spec.type, role: 'feature' });
    }
    return { ...source, view, ttlMs, entityKeys };
  });
  return { plans, features };
}

/** Entity columns as the engine describes them -> the output schema's entity part. */
export function entityColumnsFrom(described: readonly DescribedColumn[], timestampColumn: string, relation: string): EntityPlan {
  const ts = described.find((c) => c.name === timestampColumn);
  if (!ts)
    throw new MissingColumnError(
      relation,
      timestampColumn,
      'entity timestamp column',
      described.map((c) => c.name),
    );
  if (ts.type?.family !== 'timestamp' || ts.type.list)
    throw new ColumnTypeError(relation, timestampColumn, 'entity timestamp column', ts.engineType, 'a timestamp');
  const columns = described
    .filter((c) => c.name !== ROW && c.name !== TS)
    .map((c): ResultColumn => {
      if (c.name === timestampColumn) return { name: c.name, type: typesV1.ValueType.UNIX_TIMESTAMP, role: 'timestamp' };
      if (!c.type) throw new ColumnTypeError(relation, c.name, 'entity column', c.engineType, 'a type Larder can read (drop or cast the column)');
      return { name: c.name, type: valueTypeOf(c.type, !/^(INTEGER|INT4|SMALLINT|INT2|TINYINT|int4|int2)$/i.test(c.engineType)), role: 'passthrough' };
    });
  return { columns, timestampColumn };
}
