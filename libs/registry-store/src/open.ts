import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileRegistryStore } from './file-store';
import type { FileRegistryStoreOptions } from './file-store';
import { PostgresRegistryStore } from './postgres-store';
import type { PostgresRegistryStoreOptions } from './postgres-store';
import type { RegistryStore } from './registry-store';

/** Where the embedded registry lives when nothing else is configured. */
export function defaultRegistryPath(home: string = os.homedir()): string {
  return path.join(home, '.larder', 'registry.json');
}

export interface OpenRegistryStoreOptions {
  file?: FileRegistryStoreOptions;
  postgres?: PostgresRegistryStoreOptions;
  /** Relative file paths resolve against this folder (a feature repo's); the working folder by default. */
  baseDir?: string;
}

/**
 * Opens the registry at `location`:
 * - `postgres://…` or `postgresql://…`: PostgreSQL; a `schema` query
 *   parameter picks the schema (default `larder_registry`);
 * - `file:///abs/path.json`, or a path: the embedded file registry;
 * - empty: the file registry at ~/.larder/registry.json.
 */
export async function openRegistryStore(location: string, options: OpenRegistryStoreOptions = {}): Promise<RegistryStore> {
  if (/^postgres(ql)?:\/\//.test(location)) {
    const url = new URL(location);
    const schema = url.searchParams.get('schema');
    url.searchParams.delete('schema');
    return PostgresRegistryStore.open(url.toString(), { ...options.postgres, ...(schema !== null && { schema }) });
  }
  const file =
    location === ''
      ? defaultRegistryPath()
      : location.startsWith('file:')
        ? fileURLToPath(location)
        : path.resolve(options.baseDir ?? process.cwd(), location.startsWith('~/') ? path.join(os.homedir(), location.slice(2)) : location);
  return FileRegistryStore.open(file, options.file);
}
