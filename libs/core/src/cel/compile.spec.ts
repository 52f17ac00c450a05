import { create } from '@bufbuild/protobuf';
import { registryV1, typesV1 } from '@larder/proto';
import { driverStatsSet } from '../test-fixtures';
import { checkOnDemandView, compileOnDemandView, OnDemandCompileError, OnDemandEvaluationError } from './compile';
import type { OnDemandValues } from './compile';
import { onDemandInputs } from './inputs';
import type { OnDemandInput } from './inputs';

const T = typesV1.ValueType;

const v = (val: typesV1.Value['val']): typesV1.Value => create(typesV1.ValueSchema, { val });
const dbl = (value: number) => v({ case: 'doubleVal', value });
const flt = (value: number) => v({ case: 'floatVal', value });
const i64 = (value: bigint) => v({ case: 'int64Val', value });
const str = (value: string) => v({ case: 'stringVal', value });
const NULL = v({ case: 'nullVal', value: typesV1.Null.UNSPECIFIED });

/** A view with one output over a request source `req` and a view projection `stats`. */
function viewWith(expression: string, valueType: typesV1.ValueType): registryV1.OnDemandFeatureView {
  return create(registryV1.OnDemandFeatureViewSchema, {
    name: 'scored',
    sources: [
      { source: { case: 'requestSource', value: 'req' } },
      { source: { case: 'featureView', value: { featureView: 'driver_hourly_stats', alias: 'stats' } } },
    ],
    outputs: [{ name: 'out', valueType, expression }],
  });
}

const INPUTS: OnDemandInput[] = [
  {
    variable: 'req',
    source: 'request',
    ref: 'req',
    fields: [
      { name: 'amount', valueType: T.DOUBLE },
      { name: 'count', valueType: T.INT64 },
      { name: 'small', valueType: T.INT32 },
      { name: 'currency', valueType: T.STRING },
      { name: 'flag', valueType: T.BOOL },
      { name: 'scores', valueType: T.DOUBLE_LIST },
      { name: 'ids', valueType: T.INT64_LIST },
    ],
  },
  {
    variable: 'stats',
    source: 'feature-view',
    ref: 'driver_hourly_stats',
    fields: [
      { name: 'conv_rate', valueType: T.FLOAT },
      { name: 'trips', valueType: T.INT64 },
    ],
  },
];

function evaluate(expression: string, valueType: typesV1.ValueType, values: OnDemandValues): typesV1.Value {
  return compileOnDemandView(viewWith(expression, valueType), INPUTS).outputs[0]!.evaluate(values);
}

function compileErrors(expression: string, valueType: typesV1.ValueType = T.DOUBLE): string[] {
  return checkOnDemandView(viewWith(expression, valueType), INPUTS).map((i) => i.message.replace("on-demand feature view 'scored' output 'out': ", ''));
}

describe('compileOnDemandView: evaluation', () => {
  it('computes a double from a view feature (float) and a request field', () => {
    const out = evaluate('stats.conv_rate * req.amount', T.DOUBLE, { stats: { conv_rate: flt(0.5) }, req: { amount: dbl(3) } });
    expect(out.val).toEqual({ case: 'doubleVal', value: 1.5 });
  });

  it('computes an int64 and widens an int to a double output', () => {
    expect(evaluate('stats.trips + req.count * 2', T.INT64, { stats: { trips: i64(10n) }, req: { count: i64(4n) } }).val).toEqual({
      case: 'int64Val',
      value: 18n,
    });
    expect(evaluate('stats.trips + req.count', T.DOUBLE, { stats: { trips: i64(10n) }, req: { count: i64(4n) } }).val).toEqual({
      case: 'doubleVal',
      value: 14,
    });
  });

  it('reads int32 fields as CEL ints', () => {
    const small = v({ case: 'int32Val', value: 7 });
    expect(evaluate('req.small * 3', T.INT32, { req: { small } }).val).toEqual({ case: 'int32Val', value: 21 });
  });

  it('computes strings and bools', () => {
    expect(evaluate("req.currency + '-' + string(stats.trips)", T.STRING, { req: { currency: str('EUR') }, stats: { trips: i64(3n) } }).val).toEqual({
      case: 'stringVal',
      value: 'EUR-3',
    });
    expect(evaluate("req.currency == 'USD' && stats.conv_rate > 0.5", T.BOOL, { req: { currency: str('USD') }, stats: { conv_rate: flt(0.75) } }).val).toEqual({
      case: 'boolVal',
      value: true,
    });
    expect(evaluate("req.currency.startsWith('U')", T.BOOL, { req: { currency: str('EUR') } }).val).toEqual({ case: 'boolVal', value: false });
  });

  it('compares ints with doubles without conversion', () => {
    expect(evaluate('stats.trips > req.amount', T.BOOL, { stats: { trips: i64(3n) }, req: { amount: dbl(2.5) } }).val).toEqual({
      case: 'boolVal',
      value: true,
    });
  });

  it('computes lists, with macros', () => {
    const scores = v({ case: 'doubleListVal', value: create(typesV1.DoubleListSchema, { val: [1, 2, 3] }) });
    const ids = v({ case: 'int64ListVal', value: create(typesV1.Int64ListSchema, { val: [5n, 6n] }) });
    expect(evaluate('req.scores.map(s, s * req.amount)', T.DOUBLE_LIST, { req: { scores, amount: dbl(2) } }).val).toEqual({
      case: 'doubleListVal',
      value: expect.objectContaining({ val: [2, 4, 6] }),
    });
    expect(evaluate('req.ids.filter(i, i > 5)', T.INT64_LIST, { req: { ids } }).val).toEqual({
      case: 'int64ListVal',
      value: expect.objectContaining({ val: [6n] }),
    });
    expect(evaluate('req.scores.exists(s, s > 2.5)', T.BOOL, { req: { scores } }).val).toEqual({ case: 'boolVal', value: true });
    expect(evaluate('size(req.scores) + req.ids.size()', T.INT64, { req: { scores, ids } }).val).toEqual({ case: 'int64Val', value: 5n });
  });

  it('evaluates every output of a view at once', () => {
    const set = driverStatsSet();
    const view = compileOnDemandView(set.onDemandFeatureViews[0]!, set);
    const out = view.evaluate({
      transaction: { val_to_add: i64(2n), currency: str('USD') },
      driver_hourly_stats: { conv_rate: flt(0.25), avg_daily_trips: i64(40n) },
    });
    expect(Object.keys(out)).toEqual(['conv_rate_plus_val', 'trips_plus_val', 'is_usd']);
    expect(out.conv_rate_plus_val?.val).toEqual({ case: 'doubleVal', value: 2.25 });
    expect(out.trips_plus_val?.val).toEqual({ case: 'int64Val', value: 42n });
    expect(out.is_usd?.val).toEqual({ case: 'boolVal', value: true });
    expect(view.outputs.map((o) => o.resultType)).toEqual(['double', 'int', 'bool']);
    expect(view.outputs[0]!.reads).toEqual(['driver_hourly_stats.conv_rate', 'transaction.val_to_add']);
  });
});

describe('compileOnDemandView: nulls', () => {
  const expr = 'stats.conv_rate * req.amount';
  it('yields null when a field the expression reads is missing, unset or null', () => {
    expect(evaluate(expr, T.DOUBLE, { stats: {}, req: { amount: dbl(3) } }).val.case).toBe('nullVal');
    expect(evaluate(expr, T.DOUBLE, { stats: { conv_rate: NULL }, req: { amount: dbl(3) } }).val.case).toBe('nullVal');
    expect(evaluate(expr, T.DOUBLE, { stats: { conv_rate: create(typesV1.ValueSchema) }, req: { amount: dbl(3) } }).val.case).toBe('nullVal');
    expect(evaluate(expr, T.DOUBLE, { req: { amount: dbl(3) } }).val.case).toBe('nullVal');
  });

  it('lets has() handle a missing field', () => {
    const guarded = 'has(stats.conv_rate) ? stats.conv_rate * req.amount : req.amount';
    expect(evaluate(guarded, T.DOUBLE, { stats: { conv_rate: NULL }, req: { amount: dbl(3) } }).val).toEqual({ case: 'doubleVal', value: 3 });
    expect(evaluate(guarded, T.DOUBLE, { stats: { conv_rate: flt(0.5) }, req: { amount: dbl(3) } }).val).toEqual({ case: 'doubleVal', value: 1.5 });
  });

  it('is not affected by missing fields the expression does not read', () => {
    expect(evaluate('req.amount * 2.0', T.DOUBLE, { req: { amount: dbl(3) }, stats: {} }).val).toEqual({ case: 'doubleVal', value: 6 });
  });

  it('returns null for an explicit null result', () => {
    expect(evaluate('req.amount > 10.0 ? req.amount : null', T.DOUBLE, { req: { amount: dbl(3) } }).val.case).toBe('nullVal');
    expect(evaluate('req.amount > 10.0 ? req.amount : null', T.DOUBLE, { req: { amount: dbl(30) } }).val).toEqual({ case: 'doubleVal', value: 30 });
  });

  it('throws for a failure with every input present', () => {
    const run = (): unknown => evaluate('req.count / stats.trips', T.INT64, { req: { count: i64(5n) }, stats: { trips: i64(0n) } });
    expect(run).toThrow(OnDemandEvaluationError);
    expect(run).toThrow("on-demand feature view 'scored' output 'out': int divide by zero");
  });

  it('throws when the result does not fit the declared type', () => {
    expect(() => evaluate('req.count * 1000', T.INT32, { req: { count: i64(10_000_000n) } })).toThrow(
      /output 'out': the result does not fit int32: 10000000000 does not fit in int32/,
    );
    expect(() => evaluate('dyn(req.currency)', T.INT64, { req: { currency: str('x') } })).toThrow(/does not fit int64: expected an int, got string "x"/);
  });
});

describe('compileOnDemandView: compile and type errors', () => {
  it('reports syntax errors with their position', () => {
    expect(compileErrors('req.amount +* 2.0')).toEqual([expect.stringMatching(/^syntax error at line 1, column \d+: /)]);
  });

  it('reports unknown names and fields with what exists', () => {
    expect(compileErrors('request.amount')).toEqual(["unknown name 'request'; the expression can read req, stats (at column 1)"]);
    expect(compileErrors('stats.conv')).toEqual(["source 'stats' has no field 'conv'; its fields are conv_rate, trips (at column 6)"]);
    expect(compileErrors('has(stats.conv)', T.BOOL)).toEqual([expect.stringMatching(/source 'stats' has no field 'conv'/)]);
  });

  it('reports int and double mixed in arithmetic, with the fix', () => {
    expect(compileErrors('stats.trips * req.amount')).toEqual([
      "no '*' for (int, double); CEL does not mix int and double: convert one side with double(...) or int(...) (at column 13)",
    ]);
    expect(compileErrors('double(stats.trips) * req.amount')).toEqual([]);
  });

  it('reports operators without an overload', () => {
    expect(compileErrors('req.currency - 1', T.STRING)).toEqual([expect.stringMatching(/^no '-' for \(string, int\)/)]);
    expect(compileErrors('!req.amount', T.BOOL)).toEqual([expect.stringMatching(/^no '!' for \(double\)/)]);
    expect(compileErrors('req.flag && req.amount', T.BOOL)).toEqual([expect.stringMatching(/^no '&&' for \(bool, double\)/)]);
    expect(compileErrors('req.currency < 3', T.BOOL)).toEqual([expect.stringMatching(/^no '<' for \(string, int\)/)]);
    expect(compileErrors('req.currency == 3', T.BOOL)).toEqual([expect.stringMatching(/^comparing string with int is always false/)]);
  });

  it('reports ternaries with a non-bool condition or mismatched branches', () => {
    expect(compileErrors('req.amount ? 1.0 : 2.0')).toEqual([expect.stringMatching(/the condition of '\?:' must be bool, not double/)]);
    expect(compileErrors("req.flag ? 1.0 : 'x'")).toEqual([expect.stringMatching(/the branches of '\?:' have different types \(double and string\)/)]);
  });

  it('reports unknown functions and bad conversions', () => {
    expect(compileErrors('max(req.amount, 1.0)')).toEqual([expect.stringMatching(/^unknown function 'max'; available: /)]);
    expect(compileErrors('int(req.scores)', T.INT64)).toEqual([expect.stringMatching(/int\(\) cannot convert a list\(double\)/)]);
    expect(compileErrors('req.amount.contains("x")', T.BOOL)).toEqual([expect.stringMatching(/contains\(\) is a string method/)]);
  });

  it('reports a result type that does not fit the output type', () => {
    expect(compileErrors('req.amount', T.INT64)).toEqual([
      'the expression gives double, which does not fit its declared type int64; wrap the expression in int(...) to truncate',
    ]);
    expect(compileErrors('req.amount', T.STRING)).toEqual([
      'the expression gives double, which does not fit its declared type string; wrap the expression in string(...)',
    ]);
    expect(compileErrors('req.ids', T.DOUBLE_LIST)).toEqual([]);
    expect(compileErrors('req.scores', T.INT64_LIST)).toEqual([expect.stringMatching(/gives list\(double\), which does not fit its declared type int64_list/)]);
    expect(compileErrors('int(req.amount)', T.INT64)).toEqual([]);
  });

  it('reports every problem and throws OnDemandCompileError from compileOnDemandView', () => {
    const view = viewWith('nope', T.DOUBLE);
    view.outputs.push(create(registryV1.OnDemandOutputSchema, { name: 'second', valueType: T.UNSPECIFIED, expression: 'req.amount' }));
    let error: unknown;
    try {
      compileOnDemandView(view, INPUTS);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OnDemandCompileError);
    expect((error as OnDemandCompileError).issues.map((i) => i.field)).toEqual(['outputs[0].expression', 'outputs[1].value_type']);
  });

  it('treats unresolved sources as untyped instead of failing every expression', () => {
    const set = driverStatsSet();
    const view = viewWith('req.amount * stats.conv_rate', T.DOUBLE);
    const { inputs, unresolved } = onDemandInputs(view, set);
    expect(unresolved).toEqual(['req']);
    expect(inputs.map((i) => [i.variable, i.source, i.ref, i.fields?.map((f) => f.name)])).toEqual([
      ['req', 'request', 'req', undefined],
      ['stats', 'feature-view', 'driver_hourly_stats', ['conv_rate', 'acc_rate', 'avg_daily_trips']],
    ]);
    expect(checkOnDemandView(view, set)).toEqual([]);
  });
});
