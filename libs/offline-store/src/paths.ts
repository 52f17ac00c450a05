// Confinement of file paths that come from clients or registry objects to configured roots.
import { existsSync, lstatSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PathDeniedError } from './errors';

/**
 * Where the DuckDB engine may touch files: sources and entity files are read (and a
 * source's `.appended` folder written) under `read`; results and saved datasets are
 * written under `write`.
 */
export interface FileRoots {
  read: readonly string[];
  write: string;
}

/** What a path is for: which roots apply. `append` writes beside a source, so under the read roots. */
export type PathUse = 'read' | 'write' | 'append';

const GLOB = /[*?[{]/;
const REMOTE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Roots as absolute, symlink-free paths (a root need not exist yet: the write root is made on first write). */
export function resolveRoots(roots: FileRoots, cwd: string = process.cwd()): FileRoots {
  return { read: roots.read.map((r) => realPrefix(path.resolve(cwd, r))), write: realPrefix(path.resolve(cwd, roots.write)) };
}

/**
 * The real location of an absolute path: the realpath of its longest existing prefix,
 * with the rest appended (`path.resolve` has already folded `..`, so the rest has none).
 */
export function realPrefix(absolute: string, depth = 0): string {
  let existing = absolute;
  const rest: string[] = [];
  while (!existsSync(existing)) {
    const parent = path.dirname(existing);
    if (parent === existing) break;
    rest.unshift(path.basename(existing));
    existing = parent;
  }
  const real = realpathSync(existing);
  // A dangling symlink does not "exist", but writing through it would land where it points.
  const first = rest[0];
  if (first !== undefined && depth < 40 && isLink(path.join(real, first))) {
    return realPrefix(path.join(path.resolve(real, readlinkSync(path.join(real, first))), ...rest.slice(1)), depth + 1);
  }
  return path.join(real, ...rest);
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

export function within(real: string, root: string): boolean {
  return real === root || real.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

function rootsFor(roots: FileRoots, use: PathUse): readonly string[] {
  return use === 'write' ? [roots.write] : roots.read;
}

function describeRoots(roots: readonly string[], use: PathUse): string {
  const kind = use === 'write' ? 'write root' : roots.length === 1 ? 'read root' : 'read roots';
  return `the ${kind} ${roots.map((r) => `'${r}'`).join(', ')}`;
}

/** Refuses URLs: remote stores come as explicit source types, never as a side effect of a path. */
export function refuseRemote(field: string, given: string): void {
  if (REMOTE.test(given)) {
    throw new PathDeniedError(
      field,
      given,
      'is a URL; file sources and destinations are local paths under the configured roots (remote object stores are not file paths)',
    );
  }
}

/**
 * The real path a client- or registry-given path names, after `..` and symlinks, if it
 * lies under the roots for its use; otherwise PathDeniedError naming the roots. A glob is
 * checked by its fixed part (the folder before the first wildcard), and may not climb out
 * with `..` after it; the files it matches are checked by checkMatches.
 */
export function confinePath(field: string, given: string, roots: FileRoots, use: PathUse, cwd: string = process.cwd()): string {
  refuseRemote(field, given);
  if (given.includes('\0')) throw new PathDeniedError(field, given.replace(/\0/g, '\\0'), 'contains a NUL byte');
  const allowed = rootsFor(roots, use);
  const denied = (): PathDeniedError => new PathDeniedError(field, given, `is outside ${describeRoots(allowed, use)}`);
  const glob = given.search(GLOB);
  if (glob < 0) {
    const real = realPrefix(path.resolve(cwd, given));
    if (!allowed.some((root) => within(real, root))) throw denied();
    return given.endsWith('/') ? `${real}/` : real;
  }
  const fixed = given.slice(0, glob);
  const folder = fixed === '' || fixed.endsWith('/') ? fixed : path.dirname(fixed) + '/';
  const pattern = given.slice(folder.length);
  if (pattern.split('/').includes('..')) throw denied();
  const real = realPrefix(path.resolve(cwd, folder === '' ? '.' : folder));
  if (!allowed.some((root) => within(real, root))) throw denied();
  return path.join(real, pattern);
}

/** Every file a glob or folder matched must really lie under the roots (a symlink inside may point out). */
export function checkMatches(field: string, given: string, files: readonly string[], roots: FileRoots, use: PathUse): void {
  const allowed = rootsFor(roots, use);
  for (const file of files) {
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      continue; // gone since the listing; the engine will not find it either
    }
    if (!allowed.some((root) => within(real, root))) {
      throw new PathDeniedError(field, given, `matches a file that resolves outside ${describeRoots(allowed, use)} (a symlink?)`);
    }
  }
}

/**
 * Output files Larder wrote carry a hidden marker beside them (`.<name>.larder`), so
 * overwrite replaces only its own results, never a file someone else put there.
 */
export function outputMarker(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.larder`);
}

export function markOutput(file: string): void {
  writeFileSync(outputMarker(file), `written by Larder's offline store at ${new Date().toISOString()}\n`);
}
