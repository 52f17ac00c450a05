// A static type checker for the CEL our on-demand views use. @bufbuild/cel
// parses and evaluates but (in 0.6) cannot type-check calls, so we check the
// parsed tree ourselves: every variable and field must exist, operators must
// get operands CEL has an overload for, and the result type must fit the
// declared output. Anything we cannot type precisely becomes `dyn` and is
// checked when evaluated.
import type { parse } from '@bufbuild/cel';
import type { CelT } from './types';
import { BOOL, BYTES, DOUBLE, DYN, INT, NULL, STRING, UINT, isDyn, isNumeric, join, list, sameType, typeName } from './types';

export type Expr = ReturnType<typeof parse>['expr'];
type Kind<C extends string> = Extract<Expr['exprKind'], { case: C }>['value'];

export interface CheckError {
  /** Offset of the offending sub-expression in the source text, when known. */
  offset: number | undefined;
  message: string;
}

export interface CheckResult {
  type: CelT;
  /** Input fields the expression reads, as `variable.field`. */
  reads: Set<string>;
  errors: CheckError[];
  /** The static type of every sub-expression, by node id (the cost estimate reads it). */
  types: ReadonlyMap<bigint, CelT>;
}

const ARITHMETIC: Record<string, string> = { '_+_': '+', '_-_': '-', '_*_': '*', '_/_': '/', '_%_': '%' };
const COMPARISON: Record<string, string> = { '_<_': '<', '_<=_': '<=', '_>_': '>', '_>=_': '>=' };
const STRING_METHODS = new Set(['contains', 'startsWith', 'endsWith', 'matches']);

class TypeChecker {
  readonly reads = new Set<string>();
  readonly errors: CheckError[] = [];
  readonly types = new Map<bigint, CelT>();
  private readonly scopes: Array<Map<string, CelT>> = [];

  constructor(
    private readonly variables: ReadonlyMap<string, CelT>,
    private readonly positions: Readonly<Record<string, number>>,
  ) {}

  private fail(e: Expr, message: string): CelT {
    this.errors.push({ offset: this.positions[e.id.toString()], message });
    return DYN;
  }

  private lookup(name: string): CelT | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const t = this.scopes[i]?.get(name);
      if (t !== undefined) return t;
    }
    return this.variables.get(name);
  }

  check(e: Expr | undefined): CelT {
    if (e === undefined) return DYN;
    const t = this.checkNode(e);
    this.types.set(e.id, t);
    return t;
  }

  private checkNode(e: Expr): CelT {
    const kind = e.exprKind;
    switch (kind.case) {
      case 'constExpr':
        return constType(kind.value);
      case 'identExpr': {
        const t = this.lookup(kind.value.name);
        if (t !== undefined) return t;
        const known = [...this.variables.keys()].sort();
        return this.fail(e, `unknown name '${kind.value.name}'; the expression can read ${known.length === 0 ? 'no sources' : known.join(', ')}`);
      }
      case 'selectExpr':
        return this.select(e, kind.value);
      case 'callExpr':
        return this.call(e, kind.value);
      case 'listExpr': {
        let elem: CelT = DYN;
        let first = true;
        for (const item of kind.value.elements) {
          const t = this.check(item);
          if (first) {
            elem = t;
            first = false;
            continue;
          }
          // Mixed lists are legal CEL; they are just not typed precisely.
          elem = join(elem, t) ?? DYN;
        }
        return list(elem);
      }
      case 'structExpr':
        return this.struct(e, kind.value);
      case 'comprehensionExpr':
        return this.comprehension(kind.value);
      default:
        return this.fail(e, 'unsupported expression');
    }
  }

  private select(e: Expr, s: Kind<'selectExpr'>): CelT {
    const operand = this.check(s.operand);
    const result = s.testOnly ? BOOL : undefined;
    switch (operand.k) {
      case 'input': {
        this.reads.add(`${operand.name}.${s.field}`);
        if (operand.fields === undefined) return result ?? DYN;
        const t = operand.fields.get(s.field);
        if (t !== undefined) return result ?? t;
        const fields = [...operand.fields.keys()].sort();
        return this.fail(e, `source '${operand.name}' has no field '${s.field}'; its fields are ${fields.length === 0 ? '(none)' : fields.join(', ')}`);
      }
      case 'map':
        if (!sameType(operand.key, STRING)) return this.fail(e, `cannot select '.${s.field}' from a ${typeName(operand)}; use [key]`);
        return result ?? operand.value;
      case 'dyn':
        return result ?? DYN;
      default:
        return this.fail(e, `cannot select '.${s.field}' from a value of type ${typeName(operand)}`);
    }
  }

  private struct(e: Expr, s: Kind<'structExpr'>): CelT {
    if (s.messageName !== '') return this.fail(e, `message construction (${s.messageName}{...}) is not supported; build values from the sources' fields`);
    let key: CelT | undefined;
    let value: CelT | undefined;
    for (const entry of s.entries) {
      const k = entry.keyKind.case === 'mapKey' ? this.check(entry.keyKind.value) : STRING;
      const v = this.check(entry.value);
      key = key === undefined ? k : (join(key, k) ?? DYN);
      value = value === undefined ? v : (join(value, v) ?? DYN);
    }
    if (key !== undefined && !['int', 'uint', 'bool', 'string', 'dyn'].includes(key.k)) {
      return this.fail(e, `map keys must be int, uint, bool or string, not ${typeName(key)}`);
    }
    return { k: 'map', key: key ?? DYN, value: value ?? DYN };
  }

  private comprehension(c: Kind<'comprehensionExpr'>): CelT {
    const range = this.check(c.iterRange);
    let iter: CelT = DYN;
    if (range.k === 'list') iter = range.elem;
    else if (range.k === 'map') iter = range.key;
    else if (range.k !== 'dyn') {
      this.errors.push({
        offset: c.iterRange ? this.positions[c.iterRange.id.toString()] : undefined,
        message: `cannot iterate over a value of type ${typeName(range)}; use a list or a map`,
      });
    }
    const init = this.check(c.accuInit);
    const scope = new Map<string, CelT>([[c.accuVar, init]]);
    if (c.iterVar !== '') scope.set(c.iterVar, iter);
    this.scopes.push(scope);
    try {
      this.expect(c.loopCondition, BOOL, 'the loop condition');
      const step = this.check(c.loopStep);
      scope.set(c.accuVar, join(init, step) ?? DYN);
      return this.check(c.result);
    } finally {
      this.scopes.pop();
    }
  }

  private expect(e: Expr | undefined, want: CelT, what: string): CelT {
    const t = this.check(e);
    if (e !== undefined && !sameType(t, want)) this.fail(e, `${what} must be ${typeName(want)}, not ${typeName(t)}`);
    return t;
  }

  private call(e: Expr, call: Kind<'callExpr'>): CelT {
    const fn = call.function;
    const args = call.args.map((a) => this.check(a));
    const target = call.target === undefined ? undefined : this.check(call.target);
    const [a = DYN, b = DYN, c = DYN] = args;
    const overloadError = (op: string, types: CelT[]): CelT => {
      const shown = types.map(typeName).join(', ');
      const mixed = types.some((t) => t.k === 'int') && types.some((t) => t.k === 'double');
      const hint = mixed ? '; CEL does not mix int and double: convert one side with double(...) or int(...)' : '';
      return this.fail(e, `no '${op}' for (${shown})${hint}`);
    };

    const arithmetic = ARITHMETIC[fn];
    if (arithmetic !== undefined) {
      if (isDyn(a) || isDyn(b)) {
        const other = isDyn(a) ? b : a;
        return isDyn(other) || other.k === 'null' ? DYN : other;
      }
      if (!sameType(a, b)) return overloadError(arithmetic, [a, b]);
      if (arithmetic === '%' && (a.k === 'int' || a.k === 'uint')) return a;
      if (arithmetic !== '%' && isNumeric(a)) return a;
      if (arithmetic === '+' && (a.k === 'string' || a.k === 'bytes' || a.k === 'list')) return join(a, b) ?? a;
      return overloadError(arithmetic, [a, b]);
    }
    const comparison = COMPARISON[fn];
    if (comparison !== undefined) {
      const ok = isDyn(a) || isDyn(b) || (isNumeric(a) && isNumeric(b)) || (sameType(a, b) && ['string', 'bytes', 'bool'].includes(a.k));
      return ok ? BOOL : overloadError(comparison, [a, b]);
    }
    switch (fn) {
      case '_==_':
      case '_!=_': {
        const ok = isDyn(a) || isDyn(b) || a.k === 'null' || b.k === 'null' || (isNumeric(a) && isNumeric(b)) || sameType(a, b);
        return ok ? BOOL : this.fail(e, `comparing ${typeName(a)} with ${typeName(b)} is always ${fn === '_==_' ? 'false' : 'true'}; convert one side`);
      }
      case '-_':
        return a.k === 'int' || a.k === 'double' || isDyn(a) ? a : overloadError('-', [a]);
      case '!_':
      case '@not_strictly_false':
        return sameType(a, BOOL) ? BOOL : overloadError('!', [a]);
      case '_&&_':
      case '_||_':
        return sameType(a, BOOL) && sameType(b, BOOL) ? BOOL : overloadError(fn === '_&&_' ? '&&' : '||', [a, b]);
      case '_?_:_': {
        if (!sameType(a, BOOL)) return this.fail(e, `the condition of '?:' must be bool, not ${typeName(a)}`);
        if ((b.k === 'null' && c.k !== 'null') || (c.k === 'null' && b.k !== 'null')) return b.k === 'null' ? c : b;
        if (isDyn(b) || isDyn(c)) return DYN;
        return join(b, c) ?? this.fail(e, `the branches of '?:' have different types (${typeName(b)} and ${typeName(c)}); convert one so both agree`);
      }
      case '_[_]':
        if (a.k === 'list') return sameType(b, INT) || b.k === 'uint' ? a.elem : this.fail(e, `list index must be int, not ${typeName(b)}`);
        if (a.k === 'map') return sameType(b, a.key) ? a.value : this.fail(e, `map key must be ${typeName(a.key)}, not ${typeName(b)}`);
        if (a.k === 'input') return this.fail(e, `index source '${a.name}' with '.field', not [...]`);
        return isDyn(a) ? DYN : this.fail(e, `cannot index a value of type ${typeName(a)}`);
      case '@in':
        return b.k === 'list' || b.k === 'map' || isDyn(b) ? BOOL : this.fail(e, `'in' needs a list or a map on its right, not ${typeName(b)}`);
      case 'size': {
        const of = target ?? a;
        return ['string', 'bytes', 'list', 'map', 'dyn'].includes(of.k) ? INT : this.fail(e, `size() needs a string, bytes, list or map, not ${typeName(of)}`);
      }
      case 'int':
        return this.conversion(e, fn, args, ['int', 'uint', 'double', 'string'], INT);
      case 'uint':
        return this.conversion(e, fn, args, ['int', 'uint', 'double', 'string'], UINT);
      case 'double':
        return this.conversion(e, fn, args, ['int', 'uint', 'double', 'string'], DOUBLE);
      case 'string':
        return this.conversion(e, fn, args, ['int', 'uint', 'double', 'string', 'bool', 'bytes'], STRING);
      case 'bool':
        return this.conversion(e, fn, args, ['bool', 'string'], BOOL);
      case 'bytes':
        return this.conversion(e, fn, args, ['bytes', 'string'], BYTES);
      case 'dyn':
        return DYN;
    }
    if (STRING_METHODS.has(fn) && target !== undefined) {
      if (sameType(target, STRING) && args.length === 1 && sameType(a, STRING)) return BOOL;
      return this.fail(e, `${fn}() is a string method taking one string, e.g. name.${fn}('x')`);
    }
    return this.fail(
      e,
      `unknown function '${fn}'; available: arithmetic, comparisons, &&, ||, ?:, in, size, int, uint, double, ` +
        `string, bool, bytes, contains, startsWith, endsWith, matches, has, all, exists, exists_one, map, filter`,
    );
  }

  private conversion(e: Expr, fn: string, args: CelT[], from: string[], to: CelT): CelT {
    const [a] = args;
    if (args.length !== 1 || a === undefined) return this.fail(e, `${fn}() takes one argument`);
    return from.includes(a.k) || isDyn(a) ? to : this.fail(e, `${fn}() cannot convert a ${typeName(a)}`);
  }
}

function constType(c: Kind<'constExpr'>): CelT {
  switch (c.constantKind.case) {
    case 'boolValue':
      return BOOL;
    case 'int64Value':
      return INT;
    case 'uint64Value':
      return UINT;
    case 'doubleValue':
      return DOUBLE;
    case 'stringValue':
      return STRING;
    case 'bytesValue':
      return BYTES;
    case 'nullValue':
      return NULL;
    default:
      return DYN;
  }
}

/** Type-checks a parsed expression against named, typed variables. */
export function checkExpr(parsed: ReturnType<typeof parse>, variables: ReadonlyMap<string, CelT>): CheckResult {
  const checker = new TypeChecker(variables, parsed.sourceInfo?.positions ?? {});
  const type = checker.check(parsed.expr);
  return { type, reads: checker.reads, errors: checker.errors, types: checker.types };
}
