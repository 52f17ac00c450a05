import path from 'node:path';
import { registryV1 } from '@larder/proto';
import { DefinitionError, definitionInfo, type Definition, type DefinitionKind } from '@larder/sdk';
import type { FeatureRepoProblem } from './errors';
import { SourceMap } from './source-map';
import type { LoadedDefinition } from './yaml-definitions';

const { ObjectKind } = registryV1;

const OBJECT_KINDS: Record<DefinitionKind, registryV1.ObjectKind> = {
  project: ObjectKind.PROJECT,
  entity: ObjectKind.ENTITY,
  'data-source': ObjectKind.DATA_SOURCE,
  'feature-view': ObjectKind.FEATURE_VIEW,
  'on-demand-feature-view': ObjectKind.ON_DEMAND_FEATURE_VIEW,
  'feature-service': ObjectKind.FEATURE_SERVICE,
  permission: ObjectKind.PERMISSION,
};

function relative(repoPath: string, file: string): string {
  return path.relative(repoPath, file).split(path.sep).join('/');
}

/** The line of the first stack frame inside `file`, so import-time errors point into the definition file. */
function lineInFile(error: unknown, file: string): { line: number; column: number } {
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  for (const raw of stack.split('\n')) {
    const index = raw.indexOf(file);
    if (index < 0) continue;
    const match = /:(\d+):(\d+)/.exec(raw.slice(index + file.length));
    if (match !== null) return { line: Number(match[1]), column: Number(match[2]) };
  }
  return { line: 0, column: 0 };
}

/**
 * Imports a TypeScript definition file and collects the sdk objects it
 * exports (directly, or in exported arrays). Runs under tsx or jest, which
 * compile .ts on import. `file` is relative to `repoPath`.
 */
export async function loadTsDefinitions(repoPath: string, file: string): Promise<{ definitions: LoadedDefinition[]; problems: FeatureRepoProblem[] }> {
  const absolute = path.resolve(repoPath, file);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(absolute)) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof DefinitionError) {
      const objectKind = OBJECT_KINDS[error.kind];
      const callsite = error.callsite;
      const sourceMap = new SourceMap();
      sourceMap.set(objectKind, error.objectName, {
        form: 'ts',
        file: callsite === undefined ? file : relative(repoPath, callsite.file),
        line: callsite?.line ?? 0,
        column: callsite?.column ?? 0,
      });
      return { definitions: [], problems: [sourceMap.locate(objectKind, error.objectName, error.field, error.reason) as FeatureRepoProblem] };
    }
    const { line, column } = lineInFile(error, absolute);
    const message = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
    return { definitions: [], problems: [{ file, line, column, key: '', message: `cannot load definitions: ${message}` }] };
  }

  const seen = new Set<unknown>();
  const definitions: LoadedDefinition[] = [];
  const collect = (value: unknown) => {
    if (Array.isArray(value)) {
      value.forEach(collect);
      return;
    }
    const info = definitionInfo(value);
    if (info === undefined || seen.has(value)) return;
    seen.add(value);
    const callsite = info.callsite;
    definitions.push({
      kind: OBJECT_KINDS[info.kind],
      message: value as Definition,
      origin:
        callsite === undefined
          ? { form: 'ts', file, line: 0, column: 0 }
          : { form: 'ts', file: relative(repoPath, callsite.file), line: callsite.line, column: callsite.column },
    });
  };
  for (const [name, value] of Object.entries(exports)) {
    // Importing a CommonJS-compiled file from ESM puts module.exports under `default`.
    if (name === 'default' && typeof value === 'object' && value !== null && !Array.isArray(value) && definitionInfo(value) === undefined) {
      Object.values(value).forEach(collect);
    } else {
      collect(value);
    }
  }
  return { definitions, problems: [] };
}
