// The real TFDV (tensorflow-data-validation from PyPI) in a cached virtualenv, for the
// tests that prove Larder's statistics, schemas and anomalies are TFDV-compatible.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cacheDir } from './cache-dir';

const files = path.resolve(__dirname, '..', 'tfdv');
/** The full resolved set, pinned (tensorflow-data-validation 1.16.1 and what it pulls in). */
export const TFDV_REQUIREMENTS = path.join(files, 'requirements.txt');
const UV_REQUIREMENTS = path.join(files, 'uv-requirements.txt');

const execFileAsync = promisify(execFile);

function requirementsKey(): string {
  const hash = createHash('sha256');
  for (const file of [UV_REQUIREMENTS, TFDV_REQUIREMENTS]) hash.update(readFileSync(file));
  return hash.digest('hex').slice(0, 12);
}

function venvDir(): string {
  return path.join(cacheDir(), `venv-tfdv-${requirementsKey()}`);
}

/** The TFDV virtualenv's python when it is built for the current pins, else undefined. */
export function locateTfdv(): string | undefined {
  const dir = venvDir();
  return existsSync(path.join(dir, '.larder-ready')) ? path.join(dir, 'bin', 'python') : undefined;
}

/**
 * The python of a virtualenv holding TFDV, building it when missing: uv (pinned) is
 * pip-installed into a bootstrap venv, then installs the pinned set into a venv of its
 * own (about half a minute; pip's resolver would backtrack for many minutes over
 * apache-beam). One venv per requirements content, built beside its final place and
 * renamed in, so an interrupted build never looks finished and a pin change never
 * mutates a venv another run uses. Run it as `python -m` / `python script.py`.
 */
export async function tfdvPython(): Promise<string> {
  const found = locateTfdv();
  if (found !== undefined) return found;
  const dir = venvDir();
  const building = `${dir}.building-${process.pid}`;
  const boot = `${building}-uv`;
  rmSync(building, { recursive: true, force: true });
  rmSync(boot, { recursive: true, force: true });
  mkdirSync(cacheDir(), { recursive: true });
  const python3 = process.env['LARDER_PYTHON'] ?? 'python3';
  const run = (command: string, args: string[]) =>
    execFileAsync(command, args, { timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, VIRTUAL_ENV: undefined } });
  try {
    await run(python3, ['-m', 'venv', boot]);
    await run(path.join(boot, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '-r', UV_REQUIREMENTS]);
    const uv = path.join(boot, 'bin', 'uv');
    await run(uv, ['venv', '--quiet', '--python', python3, building]);
    await run(uv, ['pip', 'install', '--quiet', '--python', path.join(building, 'bin', 'python'), '-r', TFDV_REQUIREMENTS]);
    writeFileSync(path.join(building, '.larder-ready'), readFileSync(TFDV_REQUIREMENTS));
    try {
      renameSync(building, dir);
    } catch (error) {
      // Another run finished the same venv first; theirs is as good as ours.
      if (!existsSync(path.join(dir, '.larder-ready'))) throw error;
      rmSync(building, { recursive: true, force: true });
    }
  } finally {
    rmSync(boot, { recursive: true, force: true });
    rmSync(building, { recursive: true, force: true });
  }
  return path.join(dir, 'bin', 'python');
}
