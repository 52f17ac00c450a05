import { isCelError, parse, plan } from '@bufbuild/cel';
import type { CelInput } from '@bufbuild/cel';
import { registryV1 } from '@larder/proto';
import type { typesV1 } from '@larder/proto';
import type { RegistryIssue } from '../registry-set';
import { isUsableValueType, VALUE_TYPE_NAMES, valueTypeName } from '../value-types';
import { checkExpr } from './check';
import type { CheckError, Expr } from './check';
import { onDemandInputs } from './inputs';
import {
  ASSUMED_INPUT_SIZE,
  DEFAULT_ROW_COST_LIMIT,
  estimateCost,
  iterationWeight,
  MAX_EXPRESSION_CHARS,
  MAX_EXPRESSION_DEPTH,
  NODE_UNITS,
  nodeCount,
  treeDepth,
} from './limits';
import { activate, BudgetExceeded, EvaluationBudget, meteredEnv, TICK } from './meter';
import type { LimitKind } from './meter';
import type { InputCatalog, OnDemandInput } from './inputs';
import { assignable, celTypeOf, typeName } from './types';
import type { CelT } from './types';
import { ConversionError, fromCel, isNullValue, nullValue, toCelInput } from './values';

const KIND = registryV1.ObjectKind.ON_DEMAND_FEATURE_VIEW;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set([
  'true',
  'false',
  'null',
  'in',
  'as',
  'break',
  'const',
  'continue',
  'else',
  'for',
  'function',
  'if',
  'import',
  'let',
  'loop',
  'package',
  'namespace',
  'return',
  'var',
  'void',
  'while',
]);

/**
 * Input values for one evaluation: variable (source) name -> field name ->
 * value. A missing variable, a missing field, an unset Value and a null Value
 * all mean "null".
 */
export type OnDemandValues = Readonly<Record<string, Readonly<Record<string, typesV1.Value | undefined>> | undefined>>;

/** One computed feature, ready to evaluate. */
export interface CompiledOutput {
  readonly name: string;
  readonly valueType: typesV1.ValueType;
  readonly expression: string;
  /** The expression's static CEL type, e.g. `double`, `list(int)`, `dyn`. */
  readonly resultType: string;
  /** The input fields the expression reads, as `variable.field`. */
  readonly reads: readonly string[];
  /**
   * Computes the feature. Null handling: inputs that are missing or null are
   * absent in CEL, so `has(src.field)` is false for them. If the expression
   * still succeeds (it guarded with has(), or did not need the field), its
   * value is returned; if it fails and one of the fields it reads was null,
   * the result is a null Value. Any other failure (division by zero,
   * overflow, a value that does not fit the declared type) throws
   * OnDemandEvaluationError. The work is charged to `budget` (a fresh one with the
   * default per-row limit when absent); running out throws OnDemandLimitError.
   */
  evaluate(values: OnDemandValues, budget?: EvaluationBudget): typesV1.Value;
}

/** An on-demand view whose expressions compiled and type-checked. */
export interface CompiledOnDemandView {
  readonly name: string;
  readonly inputs: readonly OnDemandInput[];
  readonly outputs: readonly CompiledOutput[];
  /** Evaluates every output as one row of `budget`; see CompiledOutput.evaluate. */
  evaluate(values: OnDemandValues, budget?: EvaluationBudget): Record<string, typesV1.Value>;
}

/** The view's expressions did not compile or type-check; `issues` says where and why. */
export class OnDemandCompileError extends Error {
  override readonly name = 'OnDemandCompileError';
  constructor(readonly issues: readonly RegistryIssue[]) {
    super(issues.map((i) => i.message).join('\n'));
  }
}

/** An output could not be computed for one set of inputs. */
export class OnDemandEvaluationError extends Error {
  override readonly name = 'OnDemandEvaluationError';
  constructor(
    readonly view: string,
    readonly output: string,
    reason: string,
    options?: { cause: unknown },
  ) {
    super(`on-demand feature view '${view}' output '${output}': ${reason}`, options);
  }
}

/**
 * An evaluation ran out of its budget (per row or per request) or past the caller's
 * deadline. Services answer RESOURCE_EXHAUSTED or DEADLINE_EXCEEDED, not
 * INVALID_ARGUMENT: the inputs may be fine, the work was too much.
 */
export class OnDemandLimitError extends Error {
  override readonly name = 'OnDemandLimitError';
  constructor(
    readonly view: string,
    readonly output: string,
    readonly kind: LimitKind,
    readonly limit: number,
  ) {
    super(
      kind === 'deadline'
        ? `on-demand feature view '${view}' output '${output}': the call's deadline passed while it was being computed`
        : `on-demand feature view '${view}' output '${output}': computing it took more than the ${kind === 'row-cost' ? 'per-row' : 'per-request'} limit of ${limit} cost units; ${
            kind === 'row-cost' ? 'simplify the expression or send smaller list/string inputs' : 'send fewer entity rows per request'
          }`,
    );
  }
}

const env = meteredEnv();

interface Prepared {
  issues: RegistryIssue[];
  outputs: CompiledOutput[];
}

function formatCost(units: number): string {
  return Number.isFinite(units) ? Math.round(units).toLocaleString('en-US') : 'unbounded';
}

/**
 * Wraps every comprehension's loop condition in TICK(condition, weight), so each
 * iteration charges the nodes it evaluates. Runs after checking: TICK is not a
 * function an expression can name.
 */
function meterLoops(root: Expr | undefined): void {
  const stack: Array<Expr | undefined> = [root];
  let nextId = 1n << 40n;
  while (stack.length > 0) {
    const e = stack.pop();
    if (e === undefined) continue;
    const kind = e.exprKind;
    switch (kind.case) {
      case 'selectExpr':
        stack.push(kind.value.operand);
        break;
      case 'callExpr':
        stack.push(kind.value.target, ...kind.value.args);
        break;
      case 'listExpr':
        stack.push(...kind.value.elements);
        break;
      case 'structExpr':
        for (const entry of kind.value.entries) stack.push(entry.keyKind.case === 'mapKey' ? entry.keyKind.value : undefined, entry.value);
        break;
      case 'comprehensionExpr': {
        const c = kind.value;
        stack.push(c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result);
        const weight = iterationWeight(c);
        const condition = c.loopCondition;
        c.loopCondition = {
          $typeName: 'cel.expr.Expr',
          id: nextId++,
          exprKind: {
            case: 'callExpr',
            value: {
              $typeName: 'cel.expr.Expr.Call',
              function: TICK,
              args: [
                ...(condition === undefined ? [] : [condition]),
                {
                  $typeName: 'cel.expr.Expr',
                  id: nextId++,
                  exprKind: { case: 'constExpr', value: { $typeName: 'cel.expr.Constant', constantKind: { case: 'int64Value', value: BigInt(weight) } } },
                },
              ],
            },
          },
        };
        break;
      }
      default:
        break;
    }
  }
}

function where(expression: string, error: CheckError): string {
  if (error.offset === undefined) return '';
  const before = expression.slice(0, error.offset);
  const line = before.split('\n').length;
  const column = error.offset - before.lastIndexOf('\n');
  return line === 1 ? ` (at column ${column})` : ` (at line ${line}, column ${column})`;
}

function variableTypes(view: registryV1.OnDemandFeatureView, inputs: readonly OnDemandInput[], issues: RegistryIssue[]): Map<string, CelT> {
  const variables = new Map<string, CelT>();
  inputs.forEach((input, i) => {
    if (!IDENTIFIER.test(input.variable) || RESERVED.has(input.variable)) {
      const path = input.source === 'request' ? `sources[${i}].request_source` : `sources[${i}].feature_view.alias`;
      issues.push({
        kind: KIND,
        name: view.name,
        field: path,
        message:
          `on-demand feature view '${view.name}' source '${input.variable}' cannot be used as a CEL variable ` +
          `(${RESERVED.has(input.variable) ? 'a reserved word' : 'not an identifier'}); give it an alias`,
      });
    }
    if (variables.has(input.variable)) {
      issues.push({
        kind: KIND,
        name: view.name,
        field: `sources[${i}]`,
        message: `on-demand feature view '${view.name}' has two sources named '${input.variable}' in expressions; give one an alias`,
      });
      // Untyped from here on, so expressions are not blamed for the clash.
      variables.set(input.variable, { k: 'input', name: input.variable, fields: undefined });
      return;
    }
    const fields = input.fields === undefined ? undefined : new Map(input.fields.map((f) => [f.name, celTypeOf(f.valueType)]));
    variables.set(input.variable, { k: 'input', name: input.variable, fields });
  });
  return variables;
}

function prepare(view: registryV1.OnDemandFeatureView, inputs: readonly OnDemandInput[]): Prepared {
  const issues: RegistryIssue[] = [];
  const outputs: CompiledOutput[] = [];
  const variables = variableTypes(view, inputs, issues);
  const label = `on-demand feature view '${view.name}' output`;

  view.outputs.forEach((o, i) => {
    const field = `outputs[${i}].expression`;
    const issue = (message: string): void => {
      issues.push({ kind: KIND, name: view.name, field, message: `${label} '${o.name}': ${message}` });
    };
    if (o.expression.trim() === '') {
      issue("has no expression; write a CEL expression over the view's sources");
      return;
    }
    if (!isUsableValueType(o.valueType)) {
      issues.push({
        kind: KIND,
        name: view.name,
        field: `outputs[${i}].value_type`,
        message: `${label} '${o.name}' has ${o.valueType === 0 ? 'no value type' : `value type ${valueTypeName(o.valueType)}, which cannot be declared`}; set one of ${VALUE_TYPE_NAMES.join(', ')}`,
      });
    }
    if (o.expression.length > MAX_EXPRESSION_CHARS) {
      issue(`the expression is ${o.expression.length} characters long, more than the limit of ${MAX_EXPRESSION_CHARS}; split it into several outputs or views`);
      return;
    }
    const tooDeep = `the expression nests more than ${MAX_EXPRESSION_DEPTH} levels deep; split long chains (a + b + ...) into several outputs`;
    let parsed: ReturnType<typeof parse>;
    try {
      parsed = parse(o.expression);
    } catch (e) {
      if (e instanceof RangeError) {
        issue(tooDeep);
        return;
      }
      const text = e instanceof Error ? e.message : String(e);
      const m = /^<input>:(\d+):(\d+): (.*)$/s.exec(text);
      issue(m === null ? `syntax error: ${text}` : `syntax error at line ${m[1]}, column ${m[2]}: ${m[3]}`);
      return;
    }
    if (treeDepth(parsed.expr, MAX_EXPRESSION_DEPTH) > MAX_EXPRESSION_DEPTH) {
      issue(tooDeep);
      return;
    }
    const checked = checkExpr(parsed, variables);
    for (const error of checked.errors) issue(`${error.message}${where(o.expression, error)}`);
    if (checked.errors.length > 0) return;
    const target = celTypeOf(o.valueType);
    if (!isUsableValueType(o.valueType)) return;
    if (!assignable(checked.type, target)) {
      const hint =
        target.k === 'int' && checked.type.k === 'double'
          ? '; wrap the expression in int(...) to truncate'
          : target.k === 'string'
            ? '; wrap the expression in string(...)'
            : '';
      issue(`the expression gives ${typeName(checked.type)}, which does not fit its declared type ${valueTypeName(o.valueType)}${hint}`);
      return;
    }
    const cost = parsed.expr === undefined ? 0 : estimateCost(parsed.expr, checked.types);
    if (cost > DEFAULT_ROW_COST_LIMIT) {
      issue(
        `the expression may cost up to ${formatCost(cost)} units per row (inputs of up to ${ASSUMED_INPUT_SIZE} ` +
          `elements assumed), more than the limit of ${formatCost(DEFAULT_ROW_COST_LIMIT)}; avoid nested comprehensions ` +
          `(all, exists, map, filter) over large lists`,
      );
      return;
    }
    try {
      outputs.push(makeOutput(view.name, o, parsed, checked.type, checked.reads, inputs));
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      issue(tooDeep);
    }
  });
  return { issues, outputs };
}

function makeOutput(
  viewName: string,
  o: registryV1.OnDemandOutput,
  parsed: ReturnType<typeof parse>,
  type: CelT,
  reads: ReadonlySet<string>,
  inputs: readonly OnDemandInput[],
): CompiledOutput {
  // Charged once per evaluation, for the nodes evaluated outside loops.
  const baseCost = NODE_UNITS * nodeCount(parsed.expr);
  meterLoops(parsed.expr);
  const program = plan(env, parsed);
  const readList = [...reads];
  const variables = inputs.map((input) => input.variable);
  const fail = (reason: string, cause?: unknown): never => {
    throw new OnDemandEvaluationError(viewName, o.name, reason, cause === undefined ? undefined : { cause });
  };
  return {
    name: o.name,
    valueType: o.valueType,
    expression: o.expression,
    resultType: typeName(type),
    reads: readList,
    evaluate(values: OnDemandValues, given?: EvaluationBudget): typesV1.Value {
      let budget = given;
      if (budget === undefined) {
        budget = new EvaluationBudget();
        budget.startRow();
      }
      const bindings: Record<string, CelInput> = {};
      for (const variable of variables) {
        const fields = new Map<string, CelInput>();
        for (const [name, value] of Object.entries(values[variable] ?? {})) {
          if (value === undefined || isNullValue(value)) continue;
          const input = toCelInput(value);
          if (input !== undefined) fields.set(name, input);
        }
        bindings[variable] = fields;
      }
      const previous = activate(budget);
      let result: ReturnType<typeof program>;
      try {
        budget.charge(baseCost);
        result = program(bindings);
      } catch (e) {
        if (e instanceof BudgetExceeded) throw new OnDemandLimitError(viewName, o.name, e.kind, e.limit);
        throw e;
      } finally {
        activate(previous);
      }
      // The engine turns what its functions throw into an error value; a budget that
      // ran out stays failed, whatever the expression made of that value.
      const exceeded = budget.exceeded;
      if (exceeded !== undefined) throw new OnDemandLimitError(viewName, o.name, exceeded.kind, exceeded.limit);
      if (isCelError(result)) {
        const readNull = readList.some((ref) => {
          const dot = ref.indexOf('.');
          return isNullValue(values[ref.slice(0, dot)]?.[ref.slice(dot + 1)]);
        });
        if (readNull) return nullValue();
        return fail(result.message, result);
      }
      try {
        return fromCel(result, o.valueType);
      } catch (e) {
        if (e instanceof ConversionError) return fail(`the result does not fit ${valueTypeName(o.valueType)}: ${e.message}`, e);
        throw e;
      }
    },
  };
}

function resolve(view: registryV1.OnDemandFeatureView, inputs: readonly OnDemandInput[] | InputCatalog): readonly OnDemandInput[] {
  return Array.isArray(inputs) ? inputs : onDemandInputs(view, inputs as InputCatalog).inputs;
}

/**
 * The compile and type-check problems of an on-demand view's expressions,
 * given its typed inputs (see onDemandInputs). Empty when every output compiles.
 */
export function checkOnDemandView(view: registryV1.OnDemandFeatureView, inputs: readonly OnDemandInput[] | InputCatalog): RegistryIssue[] {
  return prepare(view, resolve(view, inputs)).issues;
}

/**
 * Compiles every output of an on-demand view into an evaluator. `inputs` are
 * the typed inputs, or a registry to resolve them from. Throws
 * OnDemandCompileError listing every problem when any expression does not
 * compile or type-check.
 */
export function compileOnDemandView(view: registryV1.OnDemandFeatureView, inputs: readonly OnDemandInput[] | InputCatalog): CompiledOnDemandView {
  const resolved = resolve(view, inputs);
  const { issues, outputs } = prepare(view, resolved);
  if (issues.length > 0) throw new OnDemandCompileError(issues);
  return {
    name: view.name,
    inputs: resolved,
    outputs,
    evaluate(values: OnDemandValues, given?: EvaluationBudget): Record<string, typesV1.Value> {
      const budget = given ?? new EvaluationBudget();
      try {
        budget.startRow();
      } catch (e) {
        if (e instanceof BudgetExceeded) throw new OnDemandLimitError(view.name, outputs[0]?.name ?? '', e.kind, e.limit);
        throw e;
      }
      const out: Record<string, typesV1.Value> = {};
      for (const o of outputs) out[o.name] = o.evaluate(values, budget);
      return out;
    },
  };
}
