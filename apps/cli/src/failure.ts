import { FeatureRepoError, formatProblem } from '@larder/feature-repo';
import { Code, RpcError, codeName } from '@larder/rpc';
import { RejectedDefinitions } from './rejection';

/** The repo's sources do not read as its views declare them (plan and apply check them first). */
export class SourceCheckFailed extends FeatureRepoError {
  readonly hint =
    "Sources are checked before plan and apply: files with DuckDB, tables and queries with larder.yaml's " +
    'offline_store. Fix the definitions or the data, or pass --skip-source-check (for sources only the services ' +
    'can reach).';
}

/** A failed operation as the user reads it on stderr: what failed and what to look at. */
export function describeFailure(error: unknown, debug: boolean): string {
  const stack = debug && error instanceof Error && error.stack ? `\n${error.stack}` : '';
  if (error instanceof FeatureRepoError) {
    const count = error.problems.length;
    const hint = error instanceof SourceCheckFailed ? [error.hint] : [];
    return (
      [
        `error: the feature repo ${error.repoPath} has ${count} problem${count === 1 ? '' : 's'}:`,
        ...error.problems.map((p) => `  ${formatProblem(p)}`),
        ...hint,
      ].join('\n') + stack
    );
  }
  if (error instanceof RejectedDefinitions) {
    const count = error.located.length + error.elsewhere.length;
    const lines = [...error.located.map(formatProblem), ...error.elsewhere.map((line) => `${line} (in the registry, not in this repo)`)];
    return (
      [
        `error: INVALID_ARGUMENT: the ${error.registry} rejected the definitions (${count} problem${count === 1 ? '' : 's'}):`,
        ...lines.map((l) => `  ${l}`),
      ].join('\n') + stack
    );
  }
  if (error instanceof RpcError) {
    if (error.code === Code.UNAVAILABLE) return `error: the registry is unavailable: ${error.message}${stack}`;
    return `error: ${codeName(error.code)}: ${error.message}${stack}`;
  }
  if (error instanceof Error) return `error: ${error.message}${stack}`;
  return `error: ${String(error)}`;
}
