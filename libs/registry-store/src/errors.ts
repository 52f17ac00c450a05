import type { RegistryIssue } from '@larder/core';
import { Code, RpcError } from '@larder/rpc';
import { kindLabel } from './kinds';
import type { registryV1 } from '@larder/proto';

// Store errors are RpcErrors so that the service, the CLI and every other
// caller get the same precise status without a second mapping layer.

export function describeObject(kind: registryV1.ObjectKind, name: string, project?: string): string {
  const where = project === undefined ? '' : ` in project "${project}"`;
  return `${kindLabel(kind)} "${name}"${where}`;
}

export function notFound(kind: registryV1.ObjectKind, name: string, project?: string): RpcError {
  return new RpcError(Code.NOT_FOUND, `${describeObject(kind, name, project)} not found`);
}

export function projectNotFound(project: string): RpcError {
  return new RpcError(Code.NOT_FOUND, `project "${project}" not found`);
}

export function invalidArgument(message: string): RpcError {
  return new RpcError(Code.INVALID_ARGUMENT, message);
}

/** One line per issue: `feature-view "driver_stats" field ttl: must not be negative`. */
export function formatIssue(issue: RegistryIssue): string {
  const field = issue.field === '' ? '' : ` field ${issue.field}`;
  return `${kindLabel(issue.kind)} "${issue.name}"${field}: ${issue.message}`;
}

export function invalidDefinitions(project: string, issues: readonly RegistryIssue[]): RpcError {
  const lines = issues.map(formatIssue);
  const head = issues.length === 1 ? lines[0] : `${issues.length} problems in project "${project}":\n  - ${lines.join('\n  - ')}`;
  return new RpcError(Code.INVALID_ARGUMENT, head ?? 'invalid definitions');
}

export function versionMismatch(expected: bigint, actual: bigint): RpcError {
  return new RpcError(
    Code.ABORTED,
    `registry is at version ${actual}, not the expected version ${expected}: another change was committed first; read the registry again and retry`,
  );
}

export function concurrentChange(read: bigint): RpcError {
  return new RpcError(
    Code.ABORTED,
    `registry changed while this change was being applied (it was planned against version ${read}); nothing was written: plan again and retry`,
  );
}

export function danglingReferences(what: string, issues: readonly RegistryIssue[]): RpcError {
  return new RpcError(Code.FAILED_PRECONDITION, `cannot delete ${what}: ${issues.map(formatIssue).join('; ')}`);
}
