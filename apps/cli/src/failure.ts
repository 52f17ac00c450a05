import { FeatureRepoError, formatProblem } from '@larder/feature-repo';
import { Code, RpcError, codeName } from '@larder/rpc';
import { RejectedDefinitions } from './rejection';

/** A failed operation as the user reads it on stderr: what failed and what to look at. */
export function describeFailure(error: unknown, debug: boolean): string {
  const stack = debug && error instanceof Error && error.stack ? `\n${error.stack}` : '';
  if (error instanceof FeatureRepoError) {
    const count = error.problems.length;
    return [`error: the feature repo ${error.repoPath} has ${count} problem${count === 1 ? '' : 's'}:`, ...error.problems.map((p) => `  ${formatProblem(p)}`)].join('\n') + stack;
  }
  if (error instanceof RejectedDefinitions) {
    const count = error.located.length + error.elsewhere.length;
    const lines = [...error.located.map(formatProblem), ...error.elsewhere.map((line) => `${line} (in the registry, not in this repo)`)];
    return [`error: INVALID_ARGUMENT: the ${error.registry} rejected the definitions (${count} problem${count === 1 ? '' : 's'}):`, ...lines.map((l) => `  ${l}`)].join('\n') + stack;
  }
  if (error instanceof RpcError) {
    if (error.code === Code.UNAVAILABLE) return `error: the registry is unavailable: ${error.message}${stack}`;
    return `error: ${codeName(error.code)}: ${error.message}${stack}`;
  }
  if (error instanceof Error) return `error: ${error.message}${stack}`;
  return `error: ${String(error)}`;
}
