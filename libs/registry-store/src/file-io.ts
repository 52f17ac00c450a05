import { randomBytes } from 'node:crypto';
import { open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { backoffDelay } from '@larder/core';
import { RegistryStoreError } from './errors';

/** `<file>.<pid>.<random>.tmp`: the pid tells a later process whether the writer is gone. */
function tempName(file: string): string {
  return `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

const TEMP_PATTERN = /^(.*)\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/**
 * Replaces `file` with `chunks` so that a reader, or a crash at any moment,
 * sees either the old content or the new one: write a temp file beside it,
 * fsync it, rename it over the file, fsync the folder (so the rename itself
 * survives a power cut).
 */
export async function writeFileAtomically(file: string, chunks: Iterable<string>): Promise<void> {
  const temp = tempName(file);
  const handle = await open(temp, 'wx', 0o644);
  try {
    try {
      for (const chunk of chunks) await handle.write(chunk);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Removes temp files left by writers that died mid-write (their pid is gone). */
export async function removeStaleTempFiles(file: string): Promise<void> {
  const base = path.basename(file);
  let names: string[];
  try {
    names = await readdir(path.dirname(file));
  } catch {
    return;
  }
  for (const name of names) {
    const match = TEMP_PATTERN.exec(name);
    if (match === null || match[1] !== base || isAlive(Number(match[2]))) continue;
    await unlink(path.join(path.dirname(file), name)).catch(() => undefined);
  }
}

export interface FileLock {
  release(): Promise<void>;
}

/**
 * An exclusive lock shared by every process writing `file`: `<file>.lock`
 * created with O_EXCL, holding the owner's pid. A lock whose owner died
 * (SIGKILL mid-write) is taken over; a live owner is waited for.
 */
export async function acquireFileLock(file: string, timeoutMs: number): Promise<FileLock> {
  const lockFile = `${file}.lock`;
  const deadline = Date.now() + timeoutMs;
  let attempt = 0;
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx', 0o644);
      try {
        await handle.write(String(process.pid));
      } finally {
        await handle.close();
      }
      return { release: () => unlink(lockFile).catch(() => undefined) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
    // An empty lock file is one being created right now; only a named dead owner is stale.
    if (Number.isInteger(owner) && owner > 0 && !isAlive(owner)) {
      await unlink(lockFile).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) {
      throw new RegistryStoreError('CONFLICT', `registry file ${file} is locked by process ${owner || 'unknown'} (another writer); retry later`);
    }
    // Writers hold the lock for milliseconds: start short, and stay short.
    await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt++, { initialMs: 2, maxMs: 50 })));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
