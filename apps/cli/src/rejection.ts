import type { RegistryIssue } from '@larder/core';
import type { FeatureRepoProblem, SourceMap } from '@larder/feature-repo';
import { registryV1 } from '@larder/proto';
import { Code, RpcError } from '@larder/rpc';

/**
 * The registry refused an apply over definitions this repo holds: checks that
 * need what is already stored (names shared with kept objects, say) only run
 * there. Each issue points at its file and line when the repo defined the object.
 */
export class RejectedDefinitions extends Error {
  override readonly name = 'RejectedDefinitions';
  constructor(
    /** "registry service at host:port", "file registry /path". */
    readonly registry: string,
    /** Issues about objects of this repo, at their file, line and key. */
    readonly located: readonly FeatureRepoProblem[],
    /** Issues about objects only the registry holds, as the registry words them. */
    readonly elsewhere: readonly string[],
    options: { cause: RpcError },
  ) {
    super(`the ${registry} rejected the definitions`, options);
  }
}

/**
 * Turns an INVALID_ARGUMENT from an apply into RejectedDefinitions when the
 * error lists its issues (registry-store's trailer); anything else comes back as it was.
 */
export async function locateRejection(error: unknown, sources: SourceMap, registry: string): Promise<unknown> {
  if (!(error instanceof RpcError) || error.code !== Code.INVALID_ARGUMENT) return error;
  // On the failure path only: registry-store pulls in the PostgreSQL driver.
  const { formatRegistryIssue, issuesOf } = await import('@larder/registry-store');
  const issues = issuesOf(error);
  if (issues === undefined || issues.length === 0) return error;
  const located: FeatureRepoProblem[] = [];
  const elsewhere: string[] = [];
  for (const issue of issues) {
    const problem = locate(issue, sources);
    if (problem === undefined) elsewhere.push(formatRegistryIssue(issue));
    else located.push(problem);
  }
  if (located.length === 0) return error;
  return new RejectedDefinitions(registry, located, elsewhere, { cause: error });
}

function locate(issue: RegistryIssue, sources: SourceMap): FeatureRepoProblem | undefined {
  const found = sources.locate(issue.kind, issue.name, issue.field, issue.message);
  if (found !== undefined || issue.kind !== registryV1.ObjectKind.PROJECT) return found;
  // A repo's Project document has no name of its own: larder.yaml gives it.
  return sources.locate(issue.kind, '', issue.field, issue.message);
}
