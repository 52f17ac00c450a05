import type { registryV1 } from '@larder/proto';

/** What an sdk builder made; a feature repo loader collects these from modules. */
export type DefinitionKind = 'project' | 'entity' | 'data-source' | 'feature-view' | 'on-demand-feature-view' | 'feature-service' | 'permission';

/** Where a definition was made: the builder's caller. Lines and columns are 1-based. */
export interface Callsite {
  file: string;
  line: number;
  column: number;
}

/** The hidden facts attached to every object an sdk builder returns. */
export interface DefinitionInfo {
  kind: DefinitionKind;
  callsite: Callsite | undefined;
}

/** Any registry message an sdk builder returns. */
export type Definition =
  | registryV1.Project
  | registryV1.Entity
  | registryV1.DataSource
  | registryV1.FeatureView
  | registryV1.OnDemandFeatureView
  | registryV1.FeatureService
  | registryV1.Permission;

// Symbol.for, not Symbol(): a repo's definition files and the loader may end
// up with different copies of this module (jest registries, tsx's ESM and CJS
// loaders), and the mark must be recognised across them.
const DEFINITION = Symbol.for('larder.sdk.definition');

export function markDefinition<T extends Definition>(message: T, kind: DefinitionKind, callsite: Callsite | undefined): T {
  // Non-enumerable so that it stays out of JSON, spreads and structural comparisons.
  Object.defineProperty(message, DEFINITION, { value: { kind, callsite } satisfies DefinitionInfo, enumerable: false });
  return message;
}

/** The definition facts of a value made by an sdk builder, or undefined for anything else. */
export function definitionInfo(value: unknown): DefinitionInfo | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  return (value as { [DEFINITION]?: DefinitionInfo })[DEFINITION];
}

/** Whether a value was made by an sdk builder. */
export function isDefinition(value: unknown): value is Definition {
  return definitionInfo(value) !== undefined;
}

/**
 * A definition that cannot be built, e.g. an unknown value type or a ttl that
 * is not a duration. `field` is the proto field path (`schema[1].value_type`).
 */
export class DefinitionError extends Error {
  override readonly name = 'DefinitionError';
  constructor(
    readonly kind: DefinitionKind,
    readonly objectName: string,
    readonly field: string,
    readonly reason: string,
    readonly callsite: Callsite | undefined,
  ) {
    super(`${kind} '${objectName}': ${field}: ${reason}`);
  }
}

const FRAME = /\(?((?:file:\/\/)?[^\s()]+?):(\d+):(\d+)\)?$/;

/** The first stack frame outside the sdk: the line that called a builder. */
export function captureCallsite(): Callsite | undefined {
  const stack = new Error().stack ?? '';
  for (const raw of stack.split('\n').slice(1)) {
    const match = FRAME.exec(raw.trim());
    if (match === null) continue;
    const file = (match[1] as string).replace(/^file:\/\//, '');
    if (isSdkFile(file) || file.startsWith('node:') || file.includes('/node_modules/')) continue;
    return { file, line: Number(match[2]), column: Number(match[3]) };
  }
  return undefined;
}

// The sdk's own modules (its tests are callers like any other).
function isSdkFile(file: string): boolean {
  return file.startsWith(__dirname) && !/\.spec\.ts$/.test(file);
}
