import { create } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { EvaluationBudget, OnDemandEvaluationError, OnDemandLimitError, valueCaseLabel, valueTypeName } from '@larder/core';
import type { OnDemandValues, TypedName } from '@larder/core';
import { eventMicros } from '@larder/online-store';
import type { EntityKeyInput, OnlineStore, ViewRead, ViewReadResult } from '@larder/online-store';
import { servingV1, typesV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import type { ServingPlan } from './plan';
import { CASE_OF_TYPE } from './values';
import { MISSING, OUT_OF_DOMAIN, SERVED, STALE } from './value-metrics';
import type { FeatureCounts } from './value-metrics';

const S = typesV1.FieldStatus;
type Value = typesV1.Value;
type Columns = Readonly<Record<string, readonly Value[] | undefined>>;

const EMPTY_VALUE: Value = create(typesV1.ValueSchema);
const ZERO_TIME: Timestamp = create(TimestampSchema);

export interface ServeRequest {
  plan: ServingPlan;
  /** Join-key columns (and, as Feast allows, request fields) by name. */
  entities: Columns;
  requestContext: Columns;
  /** Deadline of the online-store read. */
  storeTimeoutMs: number;
  maxEntityRows: number;
  /** Clock for OUTSIDE_MAX_AGE, ms since the epoch. */
  now: number;
  /** Cost budgets of on-demand features, per row and per request. */
  onDemandLimits: OnDemandLimits;
  /** The call: its deadline and abort signal, read only when on-demand features are computed. */
  call: ServingCall;
}

/**
 * What the front door knows about the call: time left, and its abort signal. The gRPC
 * handler passes its context as it is (no object per request); the signal is only
 * read by a long on-demand computation.
 */
export interface ServingCall {
  timeRemainingMs(): number | undefined;
  readonly signal?: AbortSignal;
}

export interface OnDemandLimits {
  rowCost: number;
  requestCost: number;
}

/**
 * Longest stretch of on-demand evaluation between two turns of the event loop, so a
 * request computing many rows does not hold up health checks and other calls.
 */
const SLICE_MS = 10;

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function invalid(message: string): RpcError {
  return new RpcError(Code.INVALID_ARGUMENT, message);
}

/** Number of entity rows, after checking that every supplied column has the same length. */
function rowCount(req: ServeRequest): number {
  let n: number | undefined;
  let first = '';
  const check = (where: string, columns: Columns): void => {
    for (const [name, values] of Object.entries(columns)) {
      const length = values?.length ?? 0;
      if (n === undefined) {
        n = length;
        first = `${where}['${name}']`;
      } else if (length !== n) {
        throw invalid(
          `columns of unequal length: ${first} has ${n} values but ${where}['${name}'] has ${length}; give one value per entity row in every column`,
        );
      }
    }
  };
  check('entities', req.entities);
  check('request_context', req.requestContext);
  if (n === undefined || n === 0) throw invalid('entities: no entity rows; give each join key as a column with one value per row');
  if (n > req.maxEntityRows) throw invalid(`entities: ${n} entity rows is more than the limit of ${req.maxEntityRows} per request; split the request`);
  return n;
}

function checkColumn(where: string, name: string, values: readonly Value[], field: TypedName, nullable: boolean): void {
  const expected = CASE_OF_TYPE.get(field.valueType);
  for (let i = 0; i < values.length; i++) {
    const got = (values[i] as Value).val.case;
    if (got === expected) continue;
    if (nullable && (got === undefined || got === 'nullVal')) continue;
    throw invalid(`${where}['${name}'][${i}]: expected ${valueTypeName(field.valueType)} (${valueCaseLabel(expected)}) but got ${valueCaseLabel(got)}`);
  }
}

// Messages built on the hot path are plain objects carrying their type name, which
// `create` and the encoders accept as they are: protobuf-es's `create` walks the
// descriptor for every one, and a 100 x 50 answer has 550 of them.
const TIMESTAMP = TimestampSchema.typeName;
const VECTOR = servingV1.GetOnlineFeaturesResponse_FeatureVectorSchema.typeName;
const RESPONSE = servingV1.GetOnlineFeaturesResponseSchema.typeName;
const METADATA = servingV1.GetOnlineFeaturesResponseMetadataSchema.typeName;
const FEATURE_LIST = typesV1.FeatureListSchema.typeName;

/** A stored event time (ms, microseconds in the fraction) as a Timestamp, microseconds kept. */
function timestampOf(ms: number): Timestamp {
  const micros = eventMicros(ms);
  const seconds = Math.floor(micros / 1_000_000);
  return { $typeName: TIMESTAMP, seconds: BigInt(seconds), nanos: (micros - seconds * 1_000_000) * 1000 };
}

function vector(values: Value[], statuses: typesV1.FieldStatus[], eventTimestamps: Timestamp[]): servingV1.GetOnlineFeaturesResponse_FeatureVector {
  return { $typeName: VECTOR, values, statuses, eventTimestamps };
}

/**
 * Answers one GetOnlineFeatures request with a compiled plan: checks the entity and
 * request columns, reads every view in ONE online-store call, computes on-demand
 * features, and lays the result out by column (entity columns first, as Feast does).
 */
export async function serveOnline(store: OnlineStore, req: ServeRequest): Promise<servingV1.GetOnlineFeaturesResponse> {
  const { plan } = req;
  const n = rowCount(req);

  for (const column of plan.resolved.entityColumns) {
    const values = req.entities[column.name];
    if (values === undefined) {
      const users = plan.resolved.views.filter((v) => v.joinKeys.some((k) => k.column === column.name)).map((v) => `'${v.name}'`);
      throw invalid(
        `entities: missing join key column '${column.name}' (${valueTypeName(column.valueType)}), needed by feature view ${users.join(', ')}; given: ${Object.keys(req.entities).join(', ') || 'none'}`,
      );
    }
    checkColumn('entities', column.name, values, column, false);
  }
  const request: Record<string, readonly Value[]> = {};
  for (const field of plan.resolved.requestFields) {
    const fromContext = req.requestContext[field.name];
    const values = fromContext ?? req.entities[field.name];
    if (values === undefined) {
      throw invalid(`request_context: missing field '${field.name}' (${valueTypeName(field.valueType)}), needed by an on-demand feature view`);
    }
    checkColumn(fromContext !== undefined ? 'request_context' : 'entities', field.name, values, field, true);
    request[field.name] = values;
  }

  // Entity keys, built once per distinct key shape and shared by the views using it.
  const keys: EntityKeyInput[][] = plan.shapes.map((shape) => {
    const columns = shape.columns.map((c) => req.entities[c] as readonly Value[]);
    const out: EntityKeyInput[] = new Array(n);
    for (let row = 0; row < n; row++) {
      const entityValues: Value[] = new Array(columns.length);
      for (let k = 0; k < columns.length; k++) entityValues[k] = (columns[k] as readonly Value[])[row] as Value;
      out[row] = { joinKeys: shape.joinKeys as string[], entityValues };
    }
    return out;
  });
  const reads: ViewRead[] = plan.reads.map((r) => ({ view: r.descriptor, features: r.features, entityKeys: keys[r.shape] as EntityKeyInput[] }));
  const rows: ViewReadResult[] = reads.length === 0 ? [] : await store.read(reads, { timeoutMs: req.storeTimeoutMs });

  const times = plan.resolved.views.map((_, v) => {
    const result = rows[v] as ViewReadResult;
    const out: Timestamp[] = new Array(n);
    for (let row = 0; row < n; row++) {
      const stored = result[row];
      out[row] = stored === undefined ? ZERO_TIME : timestampOf(stored.eventTs);
    }
    return out;
  });

  const computed = plan.resolved.onDemand.length === 0 ? [] : await computeOnDemand(plan, rows, request, n, req);

  const results: servingV1.GetOnlineFeaturesResponse_FeatureVector[] = [];
  for (const column of plan.echoed) {
    const values = req.entities[column.name] as Value[];
    results.push(vector(values, new Array<typesV1.FieldStatus>(n).fill(S.PRESENT), new Array<Timestamp>(n).fill(ZERO_TIME)));
  }
  const { outputs } = plan.resolved;
  for (let o = 0; o < outputs.length; o++) {
    const output = outputs[o] as (typeof outputs)[number];
    const values: Value[] = new Array(n);
    const statuses: typesV1.FieldStatus[] = new Array(n);
    let eventTimestamps: Timestamp[];
    if (output.kind === 'view') {
      const result = rows[output.view] as ViewReadResult;
      const ttl = (plan.resolved.views[output.view] as { ttlMs: number }).ttlMs;
      eventTimestamps = times[output.view] as Timestamp[];
      for (let row = 0; row < n; row++) {
        const stored = result[row];
        const value = stored?.values[output.feature];
        if (stored === undefined || value === undefined || value.val.case === undefined) {
          values[row] = EMPTY_VALUE;
          statuses[row] = S.NOT_FOUND;
        } else {
          values[row] = value;
          statuses[row] = value.val.case === 'nullVal' ? S.NULL_VALUE : ttl > 0 && req.now - stored.eventTs > ttl ? S.OUTSIDE_MAX_AGE : S.PRESENT;
        }
      }
      const counted = plan.counted[o];
      if (counted !== undefined) countServed(counted, values, statuses, n);
    } else {
      const od = computed[output.onDemand] as OnDemandResult;
      const name = (plan.resolved.onDemand[output.onDemand] as { compiled: { outputs: readonly { name: string }[] } }).compiled.outputs[output.output]
        ?.name as string;
      eventTimestamps = od.times;
      for (let row = 0; row < n; row++) {
        const value = (od.values[row] as Record<string, Value>)[name] ?? EMPTY_VALUE;
        values[row] = value;
        statuses[row] = value.val.case === 'nullVal' || value.val.case === undefined ? S.NULL_VALUE : S.PRESENT;
      }
    }
    results.push(vector(values, statuses, eventTimestamps));
  }
  // A plain message too (see VECTOR): `create` walked the descriptor and every result again (1.6% of a 1 x 50 call).
  return {
    $typeName: RESPONSE,
    metadata: { $typeName: METADATA, featureNames: { $typeName: FEATURE_LIST, val: plan.outputNames as string[] } },
    results,
  };
}

/** Adds one answered column of a feature its view's schema names to the feature's counts. */
function countServed({ counts, outOfDomain }: FeatureCounts, values: readonly Value[], statuses: readonly typesV1.FieldStatus[], n: number): void {
  let missing = 0;
  let stale = 0;
  let outside = 0;
  for (let row = 0; row < n; row++) {
    const status = statuses[row];
    if (status === S.NOT_FOUND || status === S.NULL_VALUE) {
      missing++;
      continue;
    }
    if (status === S.OUTSIDE_MAX_AGE) stale++;
    if (outOfDomain !== undefined && outOfDomain(values[row] as Value)) outside++;
  }
  counts[SERVED] = (counts[SERVED] as number) + n;
  if (missing > 0) counts[MISSING] = (counts[MISSING] as number) + missing;
  if (stale > 0) counts[STALE] = (counts[STALE] as number) + stale;
  if (outside > 0) counts[OUT_OF_DOMAIN] = (counts[OUT_OF_DOMAIN] as number) + outside;
}

interface OnDemandResult {
  values: Record<string, Value>[];
  /** The latest event time of each row's view inputs. */
  times: Timestamp[];
  latest: number[];
}

async function computeOnDemand(
  plan: ServingPlan,
  rows: readonly ViewReadResult[],
  request: Record<string, readonly Value[]>,
  n: number,
  req: ServeRequest,
): Promise<OnDemandResult[]> {
  const out: OnDemandResult[] = [];
  const remaining = req.call.timeRemainingMs();
  const budget = new EvaluationBudget({
    rowCost: req.onDemandLimits.rowCost,
    requestCost: req.onDemandLimits.requestCost,
    deadlineMs: remaining === undefined ? undefined : Date.now() + remaining,
  });
  let sliceStart = performance.now();
  for (const od of plan.resolved.onDemand) {
    const result: OnDemandResult = { values: new Array(n), times: new Array(n), latest: new Array(n) };
    for (let row = 0; row < n; row++) {
      if (performance.now() - sliceStart > SLICE_MS) {
        await yieldToLoop();
        const signal = req.call.signal;
        if (signal?.aborted === true) throw RpcError.from(signal.reason);
        sliceStart = performance.now();
      }
      const bindings: Record<string, Record<string, Value | undefined>> = {};
      let latest = -1;
      for (const input of od.inputs) {
        const fields: Record<string, Value | undefined> = {};
        if (input.kind === 'request') {
          for (const f of input.fields) fields[f.name] = request[f.name]?.[row];
        } else if (input.kind === 'view') {
          const stored = (rows[input.view] as ViewReadResult)[row];
          const read = plan.reads[input.view] as { features: readonly string[] };
          if (stored !== undefined) {
            latest = Math.max(latest, stored.eventTs);
            for (const name of input.features) fields[name] = stored.values[read.features.indexOf(name)];
          }
        } else {
          const inner = out[input.onDemand] as OnDemandResult;
          latest = Math.max(latest, inner.latest[row] as number);
          const values = inner.values[row] as Record<string, Value>;
          for (const name of input.features) fields[name] = values[name];
        }
        bindings[input.variable] = fields;
      }
      try {
        result.values[row] = od.compiled.evaluate(bindings as OnDemandValues, budget);
      } catch (error) {
        if (error instanceof OnDemandEvaluationError) throw invalid(`entity row ${row}: ${error.message}`);
        if (error instanceof OnDemandLimitError)
          throw new RpcError(error.kind === 'deadline' ? Code.DEADLINE_EXCEEDED : Code.RESOURCE_EXHAUSTED, `entity row ${row}: ${error.message}`);
        throw error;
      }
      result.latest[row] = latest;
      result.times[row] = latest < 0 ? ZERO_TIME : timestampOf(latest);
    }
    out.push(result);
  }
  return out;
}
