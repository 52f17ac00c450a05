// Cached virtualenvs built by uv, one per pinned requirements file: TFDV's (tfdv.ts) and
// the Python client's (python-client.ts). uv (pinned) is pip-installed into a bootstrap
// venv, then installs the pinned set into a venv of its own (pip's resolver backtracks for
// many minutes over trees like apache-beam's). Each venv is named by the hash of its pins,
// built beside its final place and renamed in, so an interrupted build never looks
// finished and a pin change never mutates a venv another run uses.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cacheDir } from './cache-dir';

/** uv itself, pinned. */
const UV_REQUIREMENTS = path.resolve(__dirname, '..', 'tfdv', 'uv-requirements.txt');

const execFileAsync = promisify(execFile);

/** Runs a command of a venv build (or for a venv): long timeout, large output, no outer venv. */
export const runPython = (command: string, args: string[], cwd?: string) =>
  execFileAsync(command, args, {
    cwd,
    timeout: 15 * 60_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, VIRTUAL_ENV: undefined, PIP_DISABLE_PIP_VERSION_CHECK: '1' },
  });

/** `<cache>/venv-<name>-<12 hex of the pins of uv and of requirements>`. */
export function uvVenvDir(name: string, requirements: string): string {
  const hash = createHash('sha256');
  for (const file of [UV_REQUIREMENTS, requirements]) hash.update(readFileSync(file));
  return path.join(cacheDir(), `venv-${name}-${hash.digest('hex').slice(0, 12)}`);
}

/** The venv's python when it is built, else undefined. */
export function readyVenvPython(dir: string): string | undefined {
  return existsSync(path.join(dir, '.larder-ready')) ? path.join(dir, 'bin', 'python') : undefined;
}

/** The python of the venv at `dir` holding `requirements`, building it when missing. */
export async function uvVenvPython(dir: string, requirements: string, options: { compileBytecode?: boolean } = {}): Promise<string> {
  const found = readyVenvPython(dir);
  if (found !== undefined) return found;
  const building = `${dir}.building-${process.pid}`;
  const boot = `${building}-uv`;
  rmSync(building, { recursive: true, force: true });
  rmSync(boot, { recursive: true, force: true });
  mkdirSync(cacheDir(), { recursive: true });
  const python3 = process.env['LARDER_PYTHON'] ?? 'python3';
  try {
    await runPython(python3, ['-m', 'venv', boot]);
    await runPython(path.join(boot, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--no-input', '-r', UV_REQUIREMENTS]);
    const uv = path.join(boot, 'bin', 'uv');
    await runPython(uv, ['venv', '--quiet', '--python', python3, building]);
    await runPython(uv, [
      'pip',
      'install',
      '--quiet',
      ...(options.compileBytecode === true ? ['--compile-bytecode'] : []),
      '--python',
      path.join(building, 'bin', 'python'),
      '-r',
      requirements,
    ]);
    writeFileSync(path.join(building, '.larder-ready'), readFileSync(requirements));
    try {
      renameSync(building, dir);
    } catch (error) {
      // Another run finished the same venv first; theirs is as good as ours.
      if (readyVenvPython(dir) === undefined) throw error;
    }
  } finally {
    rmSync(boot, { recursive: true, force: true });
    rmSync(building, { recursive: true, force: true });
  }
  return path.join(dir, 'bin', 'python');
}
