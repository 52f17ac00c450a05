import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import { registryV1 } from '@larder/proto';
import type { TextPositions } from '@larder/validation';
import type { FeatureRepoProblem } from './errors';
import type { Segment } from './spec';

/** A feature view's TFDV schema file (validation.schema_file): repo-relative, and where its text put each field (empty for a binary schema). */
export interface SchemaFileOrigin {
  readonly file: string;
  readonly positions: TextPositions;
}

/** Where one registry object was defined. */
export type DefinitionOrigin =
  | { form: 'yaml'; file: string; document: Document; lineCounter: LineCounter; schemaFile?: SchemaFileOrigin }
  | { form: 'ts'; file: string; line: number; column: number };

const SCHEMA_FIELD = 'validation.schema.';

/** Splits `schema[2].value_type` into ['schema', 2, 'value_type']. */
export function parseFieldPath(field: string): Segment[] {
  const segments: Segment[] = [];
  for (const part of field.split('.')) {
    if (part === '') continue;
    const match = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (match === null) {
      segments.push(part);
      continue;
    }
    if (match[1] !== '') segments.push(match[1] as string);
    for (const index of (match[2] as string).matchAll(/\[(\d+)\]/g)) segments.push(Number(index[1]));
  }
  return segments;
}

export function formatFieldPath(path: readonly Segment[]): string {
  return path.reduce<string>((out, s) => (typeof s === 'number' ? `${out}[${s}]` : out === '' ? s : `${out}.${s}`), '');
}

/** The line and column of the deepest node along a path in a YAML document (the key, when the last step is a key). */
export function locateInDocument(document: Document, lineCounter: LineCounter, path: readonly Segment[]): { line: number; column: number } {
  let node: unknown = document.contents;
  let offset = (node as Node | null)?.range?.[0] ?? 0;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (pair === undefined) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (item === undefined) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  const pos = lineCounter.linePos(offset);
  return { line: pos.line, column: pos.col };
}

function key(kind: registryV1.ObjectKind, name: string): string {
  return `${kind}/${name}`;
}

/**
 * Where each object of a loaded repo came from, so that a problem found later
 * (by core's validation, or by the registry service) can name the file, line
 * and key to fix.
 */
export class SourceMap {
  private readonly origins = new Map<string, DefinitionOrigin>();

  set(kind: registryV1.ObjectKind, name: string, origin: DefinitionOrigin): void {
    this.origins.set(key(kind, name), origin);
  }

  get(kind: registryV1.ObjectKind, name: string): DefinitionOrigin | undefined {
    return this.origins.get(key(kind, name));
  }

  /** Every object's origin: `[kind, name, origin]`. */
  entries(): Array<[registryV1.ObjectKind, string, DefinitionOrigin]> {
    return [...this.origins].map(([k, origin]) => {
      const slash = k.indexOf('/');
      return [Number(k.slice(0, slash)) as registryV1.ObjectKind, k.slice(slash + 1), origin];
    });
  }

  /**
   * The problem for a field of an object: `field` is a proto field path as in
   * core's RegistryIssue (`schema[1].value_type`, `kind.file.path`).
   * Undefined when the object did not come from this repo.
   */
  locate(kind: registryV1.ObjectKind, name: string, field: string, message: string): FeatureRepoProblem | undefined {
    const origin = this.get(kind, name);
    if (origin === undefined) return undefined;
    if (origin.form === 'ts') return { file: origin.file, line: origin.line, column: origin.column, key: field, message };
    // A problem inside a schema read from validation.schema_file points into that file (text), else at the key naming it.
    if (origin.schemaFile !== undefined && field.startsWith(SCHEMA_FIELD)) {
      const inSchema = field.slice(SCHEMA_FIELD.length);
      const at = origin.schemaFile.positions.get(inSchema);
      if (at !== undefined) return { file: origin.schemaFile.file, line: at.line, column: at.column, key: inSchema, message };
      const { line, column } = locateInDocument(origin.document, origin.lineCounter, ['validation', 'schema_file']);
      return { file: origin.file, line, column, key: 'validation.schema_file', message: `${origin.schemaFile.file}, ${inSchema}: ${message}` };
    }
    // YAML data source documents flatten the proto's `kind` oneof: `kind.file.path` is written `path`.
    const yamlField = kind === registryV1.ObjectKind.DATA_SOURCE ? field.replace(/^kind\.[a-z_]+\.?/, '') : field;
    const path = parseFieldPath(yamlField === '' ? 'name' : yamlField);
    const { line, column } = locateInDocument(origin.document, origin.lineCounter, path);
    return { file: origin.file, line, column, key: yamlField, message };
  }
}
