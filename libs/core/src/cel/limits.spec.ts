import { create } from '@bufbuild/protobuf';
import { registryV1, typesV1 } from '@larder/proto';
import { checkOnDemandView, compileOnDemandView, OnDemandEvaluationError, OnDemandLimitError } from './compile';
import type { OnDemandInput } from './inputs';
import { DEFAULT_ROW_COST_LIMIT, MAX_EXPRESSION_CHARS, MAX_EXPRESSION_DEPTH } from './limits';
import { EvaluationBudget } from './meter';

const T = typesV1.ValueType;
const INPUTS: OnDemandInput[] = [
  {
    variable: 'req',
    source: 'request',
    ref: 'req',
    fields: [
      { name: 'ids', valueType: T.INT64_LIST },
      { name: 'name', valueType: T.STRING },
      { name: 'n', valueType: T.INT64 },
    ],
  },
];

function viewWith(expression: string, valueType: typesV1.ValueType = T.BOOL): registryV1.OnDemandFeatureView {
  return create(registryV1.OnDemandFeatureViewSchema, {
    name: 'bomb',
    sources: [{ source: { case: 'requestSource', value: 'req' } }],
    outputs: [{ name: 'out', valueType, expression }],
  });
}
const issuesOf = (expression: string, valueType?: typesV1.ValueType): string[] =>
  checkOnDemandView(viewWith(expression, valueType), INPUTS).map((i) => `${i.field}: ${i.message}`);
const literal = (n: number): string => `[${Array.from({ length: n }, (_, i) => i).join(',')}]`;
const ids = (n: number): typesV1.Value =>
  create(typesV1.ValueSchema, {
    val: { case: 'int64ListVal', value: create(typesV1.Int64ListSchema, { val: Array.from({ length: n }, (_, i) => BigInt(i)) }) },
  });

describe('on-demand expression limits at apply', () => {
  it('refuses an expression longer than the limit before parsing it, naming view, output and field', () => {
    // Also a syntax error: a parser that ran first would report that instead (no wall-clock
    // check, which the shared machine makes flaky).
    const issues = issuesOf(`${literal(400_000)}.size() > 0 ))(`);
    expect(issues).toEqual([
      expect.stringMatching(
        new RegExp(
          `^outputs\\[0\\]\\.expression: on-demand feature view 'bomb' output 'out': the expression is \\d+ characters long, more than the limit of ${MAX_EXPRESSION_CHARS}`,
        ),
      ),
    ]);
  });

  it('refuses nesting deeper than the limit (a long sum, deep parentheses) instead of overflowing the stack', () => {
    expect(issuesOf(Array.from({ length: 800 }, () => '1').join('+'), T.INT64)).toEqual([
      expect.stringContaining(`nests more than ${MAX_EXPRESSION_DEPTH} levels`),
    ]);
    expect(issuesOf(`${'('.repeat(1500)}1${')'.repeat(1500)} > 0`)).toEqual([expect.stringContaining(`nests more than ${MAX_EXPRESSION_DEPTH} levels`)]);
    // 80 terms is fine.
    expect(issuesOf(Array.from({ length: 80 }, () => 'req.n').join(' + '), T.INT64)).toEqual([]);
  });

  it('refuses nested comprehensions whose static cost is over the limit, and accepts one pass over an input', () => {
    const nested = issuesOf(`${literal(100)}.all(a, ${literal(100)}.all(b, ${literal(100)}.all(c, a + b + c >= 0)))`);
    expect(nested).toEqual([
      expect.stringMatching(
        /outputs\[0\]\.expression: .*'bomb' output 'out': the expression may cost up to [\d,]+ units per row .* more than the limit of 400,000; avoid nested comprehensions/,
      ),
    ]);
    expect(issuesOf('req.ids.all(a, req.ids.all(b, a != b))')).toHaveLength(1);
    // Quadratic, but cheap at the assumed input size: the runtime budget decides (below).
    expect(issuesOf('req.ids.all(a, a in req.ids)')).toEqual([]);
    expect(issuesOf('req.ids.map(x, x * 2).size() > 0')).toEqual([]);
    expect(issuesOf('req.ids.filter(x, x % 2 == 0).exists(x, x > 10)')).toEqual([]);
    expect(issuesOf("req.name.startsWith('a') && req.n > 3")).toEqual([]);
  });
});

describe('on-demand evaluation budgets', () => {
  const evaluate = (expression: string, values: Record<string, typesV1.Value>, budget?: EvaluationBudget): typesV1.Value =>
    compileOnDemandView(viewWith(expression), INPUTS).evaluate({ req: values }, budget).out as typesV1.Value;

  it('stops an expression the static estimate allowed once its inputs are large, within the per-row limit', () => {
    // One pass with a call per element over each element: fine at 256 elements, not at 20,000.
    const expression = 'req.ids.all(x, x + 1 > 0 && x in [1, 2, 3])';
    expect(evaluate(expression, { ids: ids(256) }).val).toEqual({ case: 'boolVal', value: false });
    const budget = new EvaluationBudget();
    const input = { ids: ids(20_000) };
    // Unlimited, this is 400 million comparisons (tens of seconds); the cost bounds below
    // show it stopped just past the limit (no wall-clock check: the machine is shared).
    expect(() => evaluate('req.ids.all(a, a in req.ids)', input, budget)).toThrow(OnDemandLimitError);
    expect(budget.exceeded?.kind).toBe('row-cost');
    expect(budget.used).toBeGreaterThan(DEFAULT_ROW_COST_LIMIT);
    expect(budget.used).toBeLessThan(DEFAULT_ROW_COST_LIMIT * 2);
  });

  it('names the view and output and the limit, and stays failed for the rest of the request', () => {
    const view = compileOnDemandView(viewWith('req.ids.map(x, x + 1).size() > 0'), INPUTS);
    const budget = new EvaluationBudget({ rowCost: 1_000 });
    let error: unknown;
    try {
      view.evaluate({ req: { ids: ids(5_000) } }, budget);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OnDemandLimitError);
    expect((error as OnDemandLimitError).message).toBe(
      "on-demand feature view 'bomb' output 'out': computing it took more than the per-row limit of 1000 cost units; simplify the expression or send smaller list/string inputs",
    );
    expect(() => view.evaluate({ req: { ids: ids(1) } }, budget)).toThrow(OnDemandLimitError);
  });

  it('a budget failure is not swallowed by && / || short-circuiting', () => {
    const budget = new EvaluationBudget({ rowCost: 2_000 });
    expect(() => evaluate('false && req.ids.map(x, x).size() > 0 || true', { ids: ids(5_000) }, budget)).not.toThrow();
    expect(() => evaluate('req.ids.map(x, x).size() > 0 || true', { ids: ids(5_000) }, new EvaluationBudget({ rowCost: 2_000 }))).toThrow(OnDemandLimitError);
  });

  it('charges across rows against the request limit', () => {
    const view = compileOnDemandView(viewWith('req.ids.exists(x, x == 7)'), INPUTS);
    const budget = new EvaluationBudget({ requestCost: 50_000 });
    let rows = 0;
    expect(() => {
      for (; rows < 1_000; rows++) view.evaluate({ req: { ids: ids(100) } }, budget);
    }).toThrow(expect.objectContaining({ kind: 'request-cost', message: expect.stringContaining('per-request limit of 50000') }));
    expect(rows).toBeGreaterThan(0);
    expect(rows).toBeLessThan(1_000);
  });

  it('checks the deadline inside a long evaluation', () => {
    const view = compileOnDemandView(viewWith('req.ids.all(a, a in req.ids)'), INPUTS);
    const input = { req: { ids: ids(20_000) } };
    const budget = new EvaluationBudget({ rowCost: Number.POSITIVE_INFINITY, deadlineMs: Date.now() + 30 });
    const started = performance.now();
    expect(() => view.evaluate(input, budget)).toThrow(
      expect.objectContaining({ kind: 'deadline', message: expect.stringContaining("'bomb' output 'out': the call's deadline passed") }),
    );
    // Unlimited cost: only the deadline can have stopped it, long before the tens of seconds
    // the whole evaluation takes (loose bound for a loaded machine).
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('an engine failure on user input is an evaluation error, never a crash', () => {
    expect(() => evaluate('req.n / 0 > 1', { n: create(typesV1.ValueSchema, { val: { case: 'int64Val', value: 1n } }) })).toThrow(OnDemandEvaluationError);
  });

  it('keeps results the same as the unmetered engine (lists concatenate in order)', () => {
    const view = compileOnDemandView(
      create(registryV1.OnDemandFeatureViewSchema, {
        name: 'lists',
        sources: [{ source: { case: 'requestSource', value: 'req' } }],
        outputs: [{ name: 'out', valueType: T.INT64_LIST, expression: 'req.ids.map(x, x * 10).filter(x, x != 20) + [7]' }],
      }),
      INPUTS,
    );
    expect(view.evaluate({ req: { ids: ids(4) } }).out?.val).toEqual({ case: 'int64ListVal', value: expect.objectContaining({ val: [0n, 10n, 30n, 7n] }) });
  });
});
