// The runtime side of CEL's cost limits. @bufbuild/cel has no cost tracking and no
// interrupt, but every function call goes through the environment's resolver, and a
// comprehension evaluates its loop condition once per iteration. So the environment
// here wraps every standard function with a charge (NODE_UNITS + the sizes of its operands),
// and compile.ts wraps each comprehension's condition in a call to TICK, charged with
// the nodes one iteration evaluates. Units match estimateCost in limits.ts.
import { celEnv, celList, CelScalar, isCelList, isCelMap } from '@bufbuild/cel';
import type { CelEnv, CelFunc, CelResult, CelValue } from '@bufbuild/cel';
import { DEFAULT_ROW_COST_LIMIT, NODE_UNITS } from './limits';

/** The function compile.ts calls in every loop condition: TICK(condition, weight). */
export const TICK = '@larder_tick';

export interface EvaluationLimits {
  /** Units one view may take for one row (default DEFAULT_ROW_COST_LIMIT). */
  rowCost?: number;
  /** Units all views may take over the whole request (default unlimited). */
  requestCost?: number;
  /** Absolute deadline, ms since the epoch, checked while evaluating. */
  deadlineMs?: number | undefined;
}

export type LimitKind = 'row-cost' | 'request-cost' | 'deadline';

/** A budget ran out; thrown out of the engine and turned into OnDemandLimitError. */
export class BudgetExceeded extends Error {
  override readonly name = 'BudgetExceeded';
  constructor(
    readonly kind: LimitKind,
    readonly limit: number,
  ) {
    super(kind === 'deadline' ? 'the deadline passed' : `used more than ${limit} cost units ${kind === 'row-cost' ? 'for one row' : 'for the request'}`);
  }
}

// How often, in units, the clock is read: about every millisecond of work.
const CLOCK_EVERY = 20_000;

/**
 * The cost budget of one request: a per-row limit, a request limit and the caller's
 * deadline. One budget spans every view and row of a request; evaluation calls
 * startRow() before each view's row.
 */
export class EvaluationBudget {
  readonly rowLimit: number;
  readonly requestLimit: number;
  readonly deadlineMs: number | undefined;
  /** Units used by the whole request so far. */
  used = 0;
  private rowStart = 0;
  /** `used` at which charge() must look at the limits and the clock again. */
  private nextCheck = 0;
  private failure: BudgetExceeded | undefined;

  constructor(limits: EvaluationLimits = {}) {
    this.rowLimit = limits.rowCost ?? DEFAULT_ROW_COST_LIMIT;
    this.requestLimit = limits.requestCost ?? Number.POSITIVE_INFINITY;
    this.deadlineMs = limits.deadlineMs;
  }

  /** The reason the budget ran out, once it has. */
  get exceeded(): BudgetExceeded | undefined {
    return this.failure;
  }

  startRow(): void {
    if (this.failure !== undefined) throw this.failure;
    this.rowStart = this.used;
    this.check();
  }

  charge(units: number): void {
    this.used += units;
    if (this.used >= this.nextCheck) this.check();
  }

  /** Throws (and stays failed) when a limit or the deadline has passed. */
  check(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.used - this.rowStart > this.rowLimit) this.fail(new BudgetExceeded('row-cost', this.rowLimit));
    if (this.used > this.requestLimit) this.fail(new BudgetExceeded('request-cost', this.requestLimit));
    if (this.deadlineMs !== undefined && Date.now() >= this.deadlineMs) this.fail(new BudgetExceeded('deadline', 0));
    this.nextCheck = Math.min(this.rowStart + this.rowLimit + 1, this.requestLimit + 1, this.used + CLOCK_EVERY);
  }

  private fail(error: BudgetExceeded): never {
    this.failure = error;
    // Every later charge throws at once, so the engine unwinds fast even where it
    // swallows errors (false && error is false).
    this.nextCheck = Number.NEGATIVE_INFINITY;
    throw error;
  }
}

// Evaluation is synchronous, so the budget being charged is a module-level slot set
// around each evaluation (no closure per call on the serving path).
let active: EvaluationBudget | undefined;

/** Makes `budget` the one charged by the metered environment; returns the previous one to restore. */
export function activate(budget: EvaluationBudget | undefined): EvaluationBudget | undefined {
  const previous = active;
  active = budget;
  return previous;
}

function sizeOf(v: CelValue | undefined): number {
  if (typeof v === 'string') return v.length;
  if (v instanceof Uint8Array) return v.length;
  if (typeof v === 'object' && v !== null && (isCelList(v) || isCelMap(v))) return v.size;
  return 0;
}

/**
 * list + list as one flat list. The engine's own concatenation is lazy: map() and
 * filter() append one element per step, so their result is a chain as deep as the
 * list is long, and reading it walks nested generators (quadratic, and a stack
 * overflow past some thousands of elements). Copying costs what the charge says.
 */
function concatLists(target: CelValue | undefined, args: CelValue[]): CelValue | undefined {
  const [a, b] = args;
  if (target !== undefined || args.length !== 2 || !isCelList(a) || !isCelList(b)) return undefined;
  const out: CelValue[] = new Array<CelValue>(a.size + b.size);
  let i = 0;
  for (const v of a) out[i++] = v;
  for (const v of b) out[i++] = v;
  return celList(out);
}

/**
 * A standard function with a charge. It calls the original first (which answers
 * undefined when its overload does not match, so the resolver tries the next), and
 * charges only the overload that ran: the work of one call is bounded by the sizes
 * of its operands, which were charged when they were built.
 */
function metered(original: CelFunc): CelFunc {
  const wrapper = {
    id: original.id,
    name: original.name,
    target: original.target,
    arguments: original.arguments,
    result: original.result,
    call(id: number, target: CelValue | undefined, args: CelValue[]): CelResult | undefined {
      const result = original.name === '_+_' ? (concatLists(target, args) ?? original.call(id, target, args)) : original.call(id, target, args);
      if (result !== undefined && active !== undefined) {
        let units = NODE_UNITS + sizeOf(target);
        for (const arg of args) units += sizeOf(arg);
        active.charge(units);
      }
      return result;
    },
  };
  // The resolver only reads id, name and call; the brand is a type-level marker.
  return wrapper as unknown as CelFunc;
}

// A plain function object, not celFunc: celFunc's wrapper would turn the budget's
// exception into a CEL error value, which `&&` and `||` may swallow.
const tick = {
  id: `${TICK}(dyn,int)`,
  name: TICK,
  target: undefined,
  arguments: [CelScalar.DYN, CelScalar.INT],
  result: CelScalar.DYN,
  call(_id: number, target: CelValue | undefined, args: CelValue[]): CelResult | undefined {
    if (target !== undefined || args.length !== 2) return undefined;
    active?.charge(Number(args[1]));
    return args[0];
  },
} as unknown as CelFunc;

/** The CEL environment on-demand views run in: the standard library, metered, plus TICK. */
export function meteredEnv(): CelEnv {
  const standard = [...celEnv().funcs];
  return celEnv({ funcs: [...standard.map(metered), tick] });
}
