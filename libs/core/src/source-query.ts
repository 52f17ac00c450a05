/**
 * A registered source's SQL query is pasted into the engine's SQL as a subquery,
 * `FROM (<query>) AS src`. PostgreSQL runs it read-only over the extended protocol, which
 * takes one statement; BigQuery has neither guard: a query that closes the parenthesis and
 * adds `; DROP TABLE …` would run as a multi-statement script. So a query must be one
 * statement whose parentheses balance without ever closing one it did not open, outside
 * string literals, quoted identifiers and comments. Returns the problem, or undefined.
 */
export function sourceQueryProblem(query: string): string | undefined {
  let depth = 0;
  let i = 0;
  const n = query.length;
  while (i < n) {
    const ch = query[i]!;
    const next = query[i + 1];
    if (ch === '-' && next === '-') {
      i = lineEnd(query, i);
    } else if (ch === '#') {
      // GoogleSQL line comment; not valid PostgreSQL outside an operator, where it would fail anyway.
      i = lineEnd(query, i);
    } else if (ch === '/' && next === '*') {
      const end = query.indexOf('*/', i + 2);
      if (end < 0) return 'has a /* comment that is never closed';
      i = end + 2;
    } else if (ch === "'" || ch === '"' || ch === '`') {
      const end = quotedEnd(query, i);
      if (end < 0) return `has a ${ch} quote that is never closed`;
      i = end;
    } else if (ch === '$' && /^\$[A-Za-z_]?\w*\$/.test(query.slice(i, i + 64))) {
      // PostgreSQL dollar quoting: $$…$$ or $tag$…$tag$.
      const tag = /^\$[A-Za-z_]?\w*\$/.exec(query.slice(i, i + 64))![0];
      const end = query.indexOf(tag, i + tag.length);
      if (end < 0) return `has a ${tag} quote that is never closed`;
      i = end + tag.length;
    } else {
      if (ch === ';') {
        if (query.slice(i + 1).trim() === '') return 'ends with ";"; leave it out (the query is used as a subquery)';
        return 'holds more than one statement (";"); a source query is a single SELECT';
      }
      if (ch === '(') depth += 1;
      if (ch === ')') {
        depth -= 1;
        if (depth < 0) return 'closes a parenthesis it never opened';
      }
      i += 1;
    }
  }
  if (depth > 0) return 'leaves a parenthesis open';
  return undefined;
}

function lineEnd(text: string, from: number): number {
  const end = text.indexOf('\n', from);
  return end < 0 ? text.length : end + 1;
}

/** Index just past the quote opened at `start`; a doubled quote or a backslash escapes it; -1 if never closed. */
function quotedEnd(text: string, start: number): number {
  const quote = text[start]!;
  const triple = text.startsWith(quote.repeat(3), start) && quote !== '`';
  const closing = triple ? quote.repeat(3) : quote;
  let i = start + closing.length;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '\\') {
      i += 2;
    } else if (text.startsWith(closing, i)) {
      if (!triple && text[i + 1] === quote) i += 2;
      else return i + closing.length;
    } else {
      i += 1;
    }
  }
  return -1;
}
