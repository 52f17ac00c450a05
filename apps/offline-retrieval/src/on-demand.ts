import { EvaluationBudget, OnDemandEvaluationError, OnDemandLimitError } from '@larder/core';
import type { OnDemandValues } from '@larder/core';
import { cellToValue } from '@larder/offline-store';
import type { Cell, ResultChunk as StoreChunk, ResultSchema as StoreSchema } from '@larder/offline-store';
import type { typesV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';
import type { RetrievalPlan } from './plan';

/**
 * Longest stretch of on-demand evaluation between two turns of the event loop: a
 * training set's rows can take minutes of CPU, and health checks, other calls and the
 * client's cancel must get through meanwhile.
 */
const SLICE_MS = 10;

/** One request's on-demand evaluation: its cost budget and how to tell that the caller left. */
export class OnDemandRun {
  readonly budget: EvaluationBudget;
  private sliceStart = performance.now();

  constructor(
    limits: { rowCost: number; requestCost: number; deadlineMs: number | undefined },
    private readonly signal: AbortSignal | undefined,
  ) {
    this.budget = new EvaluationBudget({ rowCost: limits.rowCost, requestCost: limits.requestCost, deadlineMs: limits.deadlineMs });
  }

  /** Between rows: after SLICE_MS of work, lets the event loop run, then stops if the call has ended. */
  async pace(): Promise<void> {
    if (performance.now() - this.sliceStart <= SLICE_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    if (this.signal?.aborted === true) throw RpcError.from(this.signal.reason);
    this.sliceStart = performance.now();
  }
}

/**
 * Computes every on-demand view of the plan over one store chunk with core's compiled
 * evaluator (the code online serving runs), inputs bound exactly as online: view
 * features by variable, request fields from the entity rows' columns. The work is
 * charged to the run's budget and paced by it.
 */
export async function computeOnDemand(
  plan: RetrievalPlan,
  store: StoreSchema,
  chunk: StoreChunk,
  firstRow: number,
  run: OnDemandRun,
): Promise<Record<string, typesV1.Value>[][]> {
  const index = new Map(store.columns.map((c, i) => [c.name, i]));
  const results: Record<string, typesV1.Value>[][] = [];
  const cell = (column: number | undefined, row: number): Cell => (column === undefined ? null : ((chunk.columns[column] as Cell[])[row] ?? null));
  for (const od of plan.resolved.onDemand) {
    const bindingsOf = od.inputs.map((input) => {
      if (input.kind === 'request') return { input, columns: input.fields.map((f) => ({ name: f.name, type: f.valueType, column: index.get(f.name) })) };
      if (input.kind === 'view') {
        const view = plan.resolved.views[input.view];
        const columns = input.features.map((name) => {
          const j = view?.features.findIndex((f) => f.name === name) ?? -1;
          return { name, type: view?.features[j]?.valueType as typesV1.ValueType, column: index.get(plan.storeColumns[input.view]?.[j] as string) };
        });
        return { input, columns };
      }
      return { input, columns: [] };
    });
    for (const b of bindingsOf) {
      if (b.input.kind !== 'request') continue;
      const missing = b.columns.find((c) => c.column === undefined);
      if (missing !== undefined) {
        throw new RpcError(
          Code.INVALID_ARGUMENT,
          `entity rows: missing column '${missing.name}', a request field on-demand feature view '${od.name}' reads; add it to the entity rows`,
        );
      }
    }
    const out: Record<string, typesV1.Value>[] = new Array(chunk.rowCount);
    for (let row = 0; row < chunk.rowCount; row++) {
      await run.pace();
      const values: Record<string, Record<string, typesV1.Value | undefined>> = {};
      for (const b of bindingsOf) {
        const fields: Record<string, typesV1.Value | undefined> = {};
        if (b.input.kind === 'on-demand') {
          const inner = (results[b.input.onDemand] as Record<string, typesV1.Value>[])[row] as Record<string, typesV1.Value>;
          for (const name of b.input.features) fields[name] = inner[name];
        } else {
          for (const c of b.columns) fields[c.name] = cellToValue(c.type, cell(c.column, row));
        }
        values[b.input.variable] = fields;
      }
      try {
        out[row] = od.compiled.evaluate(values as OnDemandValues, run.budget);
      } catch (error) {
        if (error instanceof OnDemandEvaluationError) throw new RpcError(Code.INVALID_ARGUMENT, `entity row ${firstRow + row}: ${error.message}`);
        if (error instanceof OnDemandLimitError)
          throw new RpcError(error.kind === 'deadline' ? Code.DEADLINE_EXCEEDED : Code.RESOURCE_EXHAUSTED, `entity row ${firstRow + row}: ${error.message}`);
        throw error;
      }
    }
    results.push(out);
  }
  return results;
}
