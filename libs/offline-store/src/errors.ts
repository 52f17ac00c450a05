// Errors a caller can act on; each names the field (source column, view, entity
// column) at fault. The service layer maps them all to INVALID_ARGUMENT except
// where noted.

/**
 * A column name as messages show it: JSON-quoted, so a stray space, `\r` or quote in
 * a header is visible instead of looking like the name the caller meant.
 */
export function columnName(name: string): string {
  return JSON.stringify(name);
}

/** Base class: every user-facing offline-store error. */
export class OfflineStoreError extends Error {
  override readonly name: string = 'OfflineStoreError';
}

/** A column a source or the entity rows must have is not there. */
export class MissingColumnError extends OfflineStoreError {
  override readonly name = 'MissingColumnError';
  constructor(
    readonly relation: string,
    readonly column: string,
    readonly role: string,
    readonly available: readonly string[],
  ) {
    super(`${relation} has no column ${columnName(column)} (${role}); its columns are: ${available.map(columnName).join(', ') || '(none)'}`);
  }
}

/** A column exists but has a type that cannot serve its role. */
export class ColumnTypeError extends OfflineStoreError {
  override readonly name = 'ColumnTypeError';
  constructor(
    readonly relation: string,
    readonly column: string,
    readonly role: string,
    readonly actual: string,
    readonly expected: string,
  ) {
    super(`${relation} column ${columnName(column)} (${role}) has type ${actual}; expected ${expected}`);
  }
}

/** A join key's type differs between the view and the entity rows. */
export class JoinKeyTypeError extends OfflineStoreError {
  override readonly name = 'JoinKeyTypeError';
  constructor(
    readonly view: string,
    readonly joinKey: string,
    readonly entityColumn: string,
    readonly viewType: string,
    readonly entityType: string,
  ) {
    super(
      `join key '${joinKey}' of view '${view}' is ${viewType}, but entity column ${columnName(entityColumn)} is ${entityType}; ` +
        'cast the entity column or fix the entity definition',
    );
  }
}

/** No entity rows at all. */
export class EmptyEntitySetError extends OfflineStoreError {
  override readonly name = 'EmptyEntitySetError';
  constructor(readonly relation: string) {
    super(`the entity rows (${relation}) are empty; give at least one row`);
  }
}

/** Two output columns would get the same name. */
export class DuplicateColumnError extends OfflineStoreError {
  override readonly name = 'DuplicateColumnError';
  constructor(
    readonly column: string,
    readonly what: string,
  ) {
    super(`output column '${column}' ${what}; use full feature names or an alias`);
  }
}

/** A request this engine cannot serve (a file source on PostgreSQL, appending to a query...). */
export class UnsupportedRequestError extends OfflineStoreError {
  override readonly name = 'UnsupportedRequestError';
}

/** A malformed request field (negative ttl, bad shard, ragged columns...). */
export class InvalidRequestError extends OfflineStoreError {
  override readonly name = 'InvalidRequestError';
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/**
 * A file source whose path, folder or glob matches no file. Raised by the engine when
 * it lists the files, so a glob is checked exactly as the engine expands it.
 */
export class NoSourceFilesError extends OfflineStoreError {
  override readonly name = 'NoSourceFilesError';
  constructor(
    readonly relation: string,
    readonly pattern: string,
    /** True for the caller's entity rows (a bad argument), false for a registered source (a deployment precondition). */
    readonly entities: boolean,
  ) {
    super(`${relation}: no file matches '${pattern}'`);
  }
}

/** The destination exists and overwrite was not asked for (FAILED_PRECONDITION). */
export class DestinationExistsError extends OfflineStoreError {
  override readonly name = 'DestinationExistsError';
  constructor(readonly destination: string) {
    super(`'${destination}' already exists and overwrite is not set`);
  }
}

/** What went wrong in the engine, as far as a caller can act on it. */
export type EngineFailure = 'not_found' | 'invalid' | 'denied' | 'exhausted' | 'unavailable';

/**
 * The engine refused a request about a relation the caller or the deployment named:
 * a table that does not exist, a query it cannot run, access it does not grant, a quota
 * spent, or a backend that is down. `relation` says which (a source, the entity rows,
 * the scratch dataset); the message is the engine's first line, never our SQL.
 */
export class EngineError extends OfflineStoreError {
  override readonly name = 'EngineError';
  constructor(
    readonly failure: EngineFailure,
    readonly relation: string,
    readonly detail: string,
    options?: { cause: unknown },
  ) {
    super(`${relation}: ${detail}`, options);
  }
}

/**
 * A file path outside the roots the service may read or write, or a remote URL where a
 * local file is expected (PERMISSION_DENIED). The message names the path as given and
 * the roots, never where a symlink or `..` led, nor the service's working directory.
 */
export class PathDeniedError extends OfflineStoreError {
  override readonly name = 'PathDeniedError';
  constructor(
    readonly field: string,
    readonly path: string,
    reason: string,
  ) {
    super(`${field}: '${path}' ${reason}`);
  }
}

/** An existing destination that overwrite may not replace: a folder, or a file Larder did not write (FAILED_PRECONDITION). */
export class DestinationNotReplaceableError extends OfflineStoreError {
  override readonly name = 'DestinationNotReplaceableError';
  constructor(
    readonly destination: string,
    reason: string,
  ) {
    super(`'${destination}' ${reason}`);
  }
}
