// Limits that keep an on-demand expression's work bounded, checked when a view is
// applied (and again when a service compiles it). The runtime budget in meter.ts
// charges in the same units, so the static estimate here is the runtime charge of one
// evaluation under a stated assumption about input sizes (see estimateCost).
import type { Expr } from './check';
import type { CelT } from './types';

/**
 * Longest expression accepted, in characters. @bufbuild/cel's parser needs 2-25 us
 * per character here (a 2 MB list literal took 6 s to apply), and every service parses
 * every expression again when the registry changes.
 */
export const MAX_EXPRESSION_CHARS = 4096;

/**
 * Deepest syntax tree accepted. The parser, planner and evaluator all recurse, and a
 * sum of a few thousand terms overflowed their stack; a sum of 50 features is 50 deep.
 */
export const MAX_EXPRESSION_DEPTH = 100;

/**
 * What the static estimate assumes of every input value: at most this many list
 * elements, map entries, string characters or bytes. Inputs larger than this are
 * still evaluated; the runtime budget then decides.
 */
export const ASSUMED_INPUT_SIZE = 256;

/**
 * Units charged for evaluating one tree node or calling one function; looking at one
 * element (list item, map entry, character, byte) of a call's operands is one unit.
 * Measured on @bufbuild/cel 0.6 here: a node takes 100-400 ns, an element 3-90 ns.
 */
export const NODE_UNITS = 8;

/**
 * Cost units one evaluation may take: the largest static estimate accepted at apply,
 * and the default per-row runtime budget. At the measured 10-90 ns per unit a row at
 * the limit runs for at most about 40 ms, so one row cannot stall a service's event
 * loop (and its health checks) for long.
 */
export const DEFAULT_ROW_COST_LIMIT = 400_000;

/** Number of nodes in a (sub)tree, iteratively (the depth is checked separately). */
export function nodeCount(root: Expr | undefined): number {
  let count = 0;
  const stack: Array<Expr | undefined> = [root];
  while (stack.length > 0) {
    const e = stack.pop();
    if (e === undefined) continue;
    count++;
    stack.push(...children(e));
  }
  return count;
}

/** Depth of the tree, iteratively, stopping once it is past `limit`. */
export function treeDepth(root: Expr | undefined, limit: number): number {
  let deepest = 0;
  const stack: Array<[Expr | undefined, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [e, depth] = stack.pop() as [Expr | undefined, number];
    if (e === undefined) continue;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    for (const child of children(e)) stack.push([child, depth + 1]);
  }
  return deepest;
}

function children(e: Expr): Array<Expr | undefined> {
  const kind = e.exprKind;
  switch (kind.case) {
    case 'selectExpr':
      return [kind.value.operand];
    case 'callExpr':
      return [kind.value.target, ...kind.value.args];
    case 'listExpr':
      return kind.value.elements;
    case 'structExpr':
      return kind.value.entries.flatMap((entry) => [entry.keyKind.case === 'mapKey' ? entry.keyKind.value : undefined, entry.value]);
    case 'comprehensionExpr': {
      const c = kind.value;
      return [c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result];
    }
    default:
      return [];
  }
}

/** The weight charged on every iteration of a comprehension: its condition's and step's nodes. */
export function iterationWeight(c: Extract<Expr['exprKind'], { case: 'comprehensionExpr' }>['value']): number {
  return NODE_UNITS * (1 + nodeCount(c.loopCondition) + nodeCount(c.loopStep));
}

// Calls the planner evaluates without a function call (so the runtime charges them
// nothing); everything else is a call charged NODE_UNITS + the sizes of its operands.
const NOT_CHARGED = new Set(['_[_]', '_[?_]', '_?._', '_?_:_', '_&&_', '_||_', '@not_strictly_false', 'not_strictly_false']);

const SCALAR = new Set(['int', 'uint', 'double', 'bool', 'null']);

interface Estimate {
  /** Upper bound of the units charged while evaluating the node once. */
  cost: number;
  /** Upper bound of the value's size: elements, entries, characters or bytes, nested ones included. */
  size: number;
}

/**
 * An upper bound of the runtime charge (meter.ts) of one evaluation, valid for every
 * input whose values hold at most ASSUMED_INPUT_SIZE elements, entries, characters
 * or bytes each:
 *
 *   charge = N * nodes(expression)                                   (once per evaluation)
 *          + sum over comprehension iterations of N * (1 + nodes(condition) + nodes(step))
 *          + sum over calls of N + the sizes of the call's operands
 *
 * with N = NODE_UNITS.
 *
 * Sizes are bounded bottom-up: a literal's own size, ASSUMED_INPUT_SIZE for an input
 * field, 0 for a scalar type, a + b for concatenation, the container's size for an
 * element or an iteration variable; a comprehension runs at most size(range) times,
 * and its accumulator grows by at most what one step adds each time. Every rule
 * over-approximates, so the sum does too.
 */
export function estimateCost(root: Expr, types: ReadonlyMap<bigint, CelT>): number {
  const scopes: Array<Map<string, number>> = [];
  const lookup = (name: string): number | undefined => {
    for (let i = scopes.length - 1; i >= 0; i--) {
      const size = scopes[i]?.get(name);
      if (size !== undefined) return size;
    }
    return undefined;
  };
  const scalar = (e: Expr): boolean => SCALAR.has(types.get(e.id)?.k ?? 'dyn');

  const estimate = (e: Expr | undefined): Estimate => {
    if (e === undefined) return { cost: 0, size: 0 };
    const result = estimateNode(e);
    return scalar(e) ? { cost: result.cost, size: 0 } : result;
  };

  const estimateNode = (e: Expr): Estimate => {
    const kind = e.exprKind;
    switch (kind.case) {
      case 'constExpr': {
        const c = kind.value.constantKind;
        return { cost: 0, size: c.case === 'stringValue' || c.case === 'bytesValue' ? c.value.length : 0 };
      }
      case 'identExpr':
        // A source variable is a record; its fields are sized where they are selected.
        return { cost: 0, size: lookup(kind.value.name) ?? 0 };
      case 'selectExpr': {
        const operand = estimate(kind.value.operand);
        if (kind.value.testOnly) return { cost: operand.cost, size: 0 };
        const isInput = types.get(kind.value.operand?.id ?? -1n)?.k === 'input';
        return { cost: operand.cost, size: isInput ? ASSUMED_INPUT_SIZE : operand.size };
      }
      case 'listExpr': {
        let cost = 0;
        let size = kind.value.elements.length;
        for (const element of kind.value.elements) {
          const x = estimate(element);
          cost += x.cost;
          size += x.size;
        }
        return { cost, size };
      }
      case 'structExpr': {
        let cost = 0;
        let size = kind.value.entries.length;
        for (const entry of kind.value.entries) {
          for (const part of [entry.keyKind.case === 'mapKey' ? entry.keyKind.value : undefined, entry.value]) {
            const x = estimate(part);
            cost += x.cost;
            size += x.size;
          }
        }
        return { cost, size };
      }
      case 'callExpr':
        return call(kind.value);
      case 'comprehensionExpr':
        return comprehension(kind.value);
      default:
        return { cost: 0, size: 0 };
    }
  };

  const call = (c: Extract<Expr['exprKind'], { case: 'callExpr' }>['value']): Estimate => {
    const operands = [...(c.target === undefined ? [] : [estimate(c.target)]), ...c.args.map(estimate)];
    let cost = 0;
    let sizes = 0;
    let largest = 0;
    for (const x of operands) {
      cost += x.cost;
      sizes += x.size;
      largest = Math.max(largest, x.size);
    }
    if (!NOT_CHARGED.has(c.function)) cost += NODE_UNITS + sizes;
    const [a = 0, b = 0, third = 0] = operands.map((x) => x.size);
    switch (c.function) {
      case '_+_':
        return { cost, size: a + b };
      case '_[_]':
      case 'dyn':
        return { cost, size: a };
      case '_?_:_':
        return { cost, size: Math.max(b, third) };
      case 'string':
        // A number prints in at most 32 characters.
        return { cost, size: Math.max(a, 32) };
      case 'bytes':
        // UTF-16 code units to UTF-8 bytes.
        return { cost, size: 3 * a };
      default:
        return { cost, size: largest };
    }
  };

  const comprehension = (c: Extract<Expr['exprKind'], { case: 'comprehensionExpr' }>['value']): Estimate => {
    const range = estimate(c.iterRange);
    const init = estimate(c.accuInit);
    const n = range.size;
    const scope = new Map<string, number>([[c.accuVar, init.size]]);
    if (c.iterVar !== '') scope.set(c.iterVar, range.size);
    scopes.push(scope);
    try {
      // How much one step can add to the accumulator (map and filter append one element).
      const growth = Math.max(0, estimate(c.loopStep).size - init.size);
      const accumulated = init.size + n * growth;
      scope.set(c.accuVar, accumulated);
      const perIteration = iterationWeight(c) + estimate(c.loopCondition).cost + estimate(c.loopStep).cost;
      const result = estimate(c.result);
      return { cost: range.cost + init.cost + n * perIteration + result.cost, size: result.size };
    } finally {
      scopes.pop();
    }
  };

  return NODE_UNITS * nodeCount(root) + estimate(root).cost;
}
