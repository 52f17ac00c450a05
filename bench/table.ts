/** One measured case, as DESIGN.md describes: the workload plus whichever figures apply. */
export interface BenchRecord {
  workload: string;
  [figure: string]: string | number | boolean;
}

/** A plain-text table with one column per key seen in any record. */
export function formatTable(records: readonly BenchRecord[]): string {
  const columns = [...new Set(records.flatMap((r) => Object.keys(r)))];
  const cells = records.map((r) => columns.map((c) => (r[c] === undefined ? '' : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] as string).length)));
  const line = (row: readonly string[]): string =>
    row
      .map((cell, i) => cell.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
