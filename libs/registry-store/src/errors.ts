import { kindLabel, kindName, parseKindName } from '@larder/core';
import type { RegistryIssue } from '@larder/core';
import { registryV1 } from '@larder/proto';
import { isKindInProject } from './kinds';

/**
 * What a store refused, in the store's terms. The service edge gives each kind its
 * status (the registry service and the CLI's in-process store alike):
 * - NOT_FOUND: no such project or object;
 * - INVALID: the request or the definitions cannot be accepted as they are;
 * - CONFLICT: another writer got there first (the version moved, the file is locked); retry;
 * - PRECONDITION: refused in the registry's present state (references to it, a lease held).
 */
export type RegistryStoreErrorKind = 'NOT_FOUND' | 'INVALID' | 'CONFLICT' | 'PRECONDITION';

export class RegistryStoreError extends Error {
  override readonly name = 'RegistryStoreError';
  constructor(
    readonly kind: RegistryStoreErrorKind,
    message: string,
    /** A rejected apply's issues, one per problem (see issuesTrailer). */
    readonly issues: readonly RegistryIssue[] = [],
  ) {
    super(message);
  }
}

export function describeObject(kind: registryV1.ObjectKind, name: string, project?: string): string {
  const where = project === undefined ? '' : ` in project "${project}"`;
  return `${kindText(kind)} "${name}"${where}`;
}

/** core's kind name (`feature-view`); a number a client made up stays a number rather than failing. */
function kindText(kind: registryV1.ObjectKind): string {
  return kind === registryV1.ObjectKind.PROJECT || isKindInProject(kind) ? kindName(kind) : `kind ${kind}`;
}

export function notFound(kind: registryV1.ObjectKind, name: string, project?: string): RegistryStoreError {
  return new RegistryStoreError('NOT_FOUND', `${describeObject(kind, name, project)} not found`);
}

export function projectNotFound(project: string): RegistryStoreError {
  return new RegistryStoreError('NOT_FOUND', `project "${project}" not found`);
}

export function invalidArgument(message: string): RegistryStoreError {
  return new RegistryStoreError('INVALID', message);
}

/**
 * One line per issue, naming the object once, then the field, then what is
 * wrong: `feature view 'driver_stats': ttl: has a negative ttl; use …`.
 * Core's messages already open with the object (`feature view 'x' has …`), so
 * that opening moves in front of the field instead of being said twice.
 */
export function formatRegistryIssue(issue: RegistryIssue): string {
  const field = issue.field === '' ? '' : `${issue.field}: `;
  // An unnamed object: core's message says which one (`feature view #2 has no name`).
  if (issue.name === '') return `${field}${issue.message}`;
  const subject = `${kindLabel(issue.kind)} '${issue.name}'`;
  const rest = issue.message.startsWith(`${subject} `) ? issue.message.slice(subject.length + 1) : issue.message;
  return `${subject}: ${field}${rest}`;
}

/**
 * Trailer carrying a rejected apply's issues as JSON, `[{kind, name, field,
 * message}]` with kind as in `feature-view`, so a client holding the
 * definitions (the CLI) can point each one at the file and line it came from.
 */
export const ISSUES_METADATA_KEY = 'x-larder-issues';

// gRPC limits all metadata to 8 KiB by default; past this the trailer is left out
// and the message alone carries the issues.
const MAX_ISSUES_METADATA = 4096;

/** The trailer carrying `issues` (ISSUES_METADATA_KEY), or nothing when there are none or they do not fit. */
export function issuesTrailer(issues: readonly RegistryIssue[]): Record<string, string> {
  if (issues.length === 0) return {};
  const json = JSON.stringify(issues.map((i) => ({ kind: kindName(i.kind), name: i.name, field: i.field, message: i.message })));
  // Metadata values must be printable ASCII; JSON's \u escapes keep anything else intact.
  const ascii = json.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return ascii.length > MAX_ISSUES_METADATA ? {} : { [ISSUES_METADATA_KEY]: ascii };
}

/** The issues of a rejected apply, as its trailer lists them; undefined when it has none (or they did not fit). */
export function issuesOf(error: { readonly metadata: Readonly<Record<string, string>> }): RegistryIssue[] | undefined {
  const text = error.metadata[ISSUES_METADATA_KEY];
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const issues: RegistryIssue[] = [];
  for (const item of parsed as unknown[]) {
    const { kind, name, field, message } = (item ?? {}) as Record<string, unknown>;
    const parsedKind = typeof kind === 'string' ? parseKindName(kind) : undefined;
    if (parsedKind === undefined || typeof name !== 'string' || typeof field !== 'string' || typeof message !== 'string') return undefined;
    issues.push({ kind: parsedKind, name, field, message });
  }
  return issues;
}

export function invalidDefinitions(project: string, issues: readonly RegistryIssue[]): RegistryStoreError {
  const lines = issues.map(formatRegistryIssue);
  const head = issues.length === 1 ? lines[0] : `${issues.length} problems in project "${project}":\n  - ${lines.join('\n  - ')}`;
  return new RegistryStoreError('INVALID', head ?? 'invalid definitions', issues);
}

export function versionMismatch(expected: bigint, actual: bigint): RegistryStoreError {
  return new RegistryStoreError(
    'CONFLICT',
    `registry is at version ${actual}, not the expected version ${expected}: another change was committed first; read the registry again and retry`,
  );
}

export function concurrentChange(read: bigint): RegistryStoreError {
  return new RegistryStoreError(
    'CONFLICT',
    `registry changed while this change was being applied (it was planned against version ${read}); nothing was written: plan again and retry`,
  );
}

export function danglingReferences(what: string, issues: readonly RegistryIssue[]): RegistryStoreError {
  return new RegistryStoreError('PRECONDITION', `cannot delete ${what}: ${issues.map(formatRegistryIssue).join('; ')}`);
}
