/** One problem in a feature repo, pointing at the file, line and key it is about. */
export interface FeatureRepoProblem {
  /** Path relative to the repo root, with forward slashes. */
  file: string;
  /** 1-based; 0 when the file as a whole is meant. */
  line: number;
  /** 1-based; 0 when unknown. */
  column: number;
  /** The key path the problem is about (`schema[1].value_type`, `ttl`); empty for the file or document. */
  key: string;
  message: string;
}

export function formatProblem(p: FeatureRepoProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return `${where}: ${p.key === '' ? '' : `${p.key}: `}${p.message}`;
}

/** A feature repo that cannot be loaded; `problems` lists every problem found. */
export class FeatureRepoError extends Error {
  override readonly name = 'FeatureRepoError';
  constructor(
    readonly repoPath: string,
    readonly problems: readonly FeatureRepoProblem[],
  ) {
    super(
      `feature repo ${repoPath} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` + problems.map((p) => `  ${formatProblem(p)}`).join('\n'),
    );
  }
}
