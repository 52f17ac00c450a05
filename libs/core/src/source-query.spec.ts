import { sourceQueryProblem } from './source-query';

describe('sourceQueryProblem', () => {
  it.each([
    'SELECT driver_id, ts, conv_rate FROM stats',
    'SELECT * FROM (SELECT a, (b + 1) AS c FROM t) WHERE f(x, (y))',
    "SELECT ';' AS semi, ')' AS paren, 'it''s' AS doubled, 'back\\'slash' AS escaped FROM t",
    'SELECT "a;b", `proj.ds.t;x` FROM `p.d.t` -- trailing ; comment )\n WHERE 1 = 1',
    'SELECT 1 /* ; ) */ FROM t # googlesql comment ;',
    "SELECT '''triple ; ) quoted''' FROM t",
    'SELECT $$ ; ) $$, $tag$ ( ; $tag$ FROM t',
  ])('accepts one statement: %s', (query) => {
    expect(sourceQueryProblem(query)).toBeUndefined();
  });

  it.each([
    // Breaking out of the `(<query>)` it is wrapped in, then a second statement.
    ['SELECT 1) ; DROP TABLE ds.t; SELECT (1', 'closes a parenthesis it never opened'],
    ['SELECT 1); DELETE FROM ds.t WHERE (true', 'closes a parenthesis it never opened'],
    ['SELECT 1; DROP TABLE ds.t', 'holds more than one statement'],
    ['SELECT * FROM t) UNION ALL SELECT * FROM secrets WHERE (1=1', 'closes a parenthesis it never opened'],
    ['SELECT * FROM t;', 'ends with ";"'],
    ['SELECT (1 FROM t', 'leaves a parenthesis open'],
    ["SELECT 'open FROM t", 'quote that is never closed'],
    ['SELECT 1 /* open', 'comment that is never closed'],
    ['SELECT $x$ open', 'quote that is never closed'],
  ])('refuses %s', (query, problem) => {
    expect(sourceQueryProblem(query)).toContain(problem);
  });
});
