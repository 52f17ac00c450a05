/** One problem found while loading configuration. */
export interface ConfigIssue {
  /** Dotted key, e.g. "grpc.port"; empty for problems with the file as a whole. */
  key: string;
  /** A sentence naming the expectation and the bad value. */
  problem: string;
  /** Where the value came from: "environment variable LARDER_GRPC_PORT", "larder.yaml line 4, column 9". */
  source: string;
}

export function formatConfigIssue(issue: ConfigIssue): string {
  const prefix = issue.key === '' ? '' : `${issue.key}: `;
  return `${prefix}${issue.problem} (${issue.source})`;
}

/** Every problem found in one load, not just the first. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map(formatConfigIssue);
    super(
      issues.length === 1
        ? `invalid configuration: ${lines[0]}`
        : `invalid configuration (${issues.length} problems):\n${lines.map((l) => `  - ${l}`).join('\n')}`,
    );
    this.issues = issues;
  }
}
