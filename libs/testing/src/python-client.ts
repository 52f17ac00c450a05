// The Python client's test environment (clients/python/requirements-test.txt: grpcio,
// grpcio-tools, pandas, pyarrow, pytest, tqdm, hatchling, nbclient...) in a cached
// virtualenv, built by uv as tfdv.ts builds TFDV's, and the client's wheel built from
// the checkout into a folder of its own for each run.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cacheDir } from './cache-dir';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
/** The Python client's folder (pyproject.toml, src/larder, tests). */
export const PYTHON_CLIENT_DIR = path.join(REPO_ROOT, 'clients', 'python');
export const PYTHON_CLIENT_REQUIREMENTS = path.join(PYTHON_CLIENT_DIR, 'requirements-test.txt');
/**
 * The Kubeflow Pipelines and KServe environment (tests_kubeflow): kserve 0.21 needs
 * pandas < 3 and brings its own grpcio-tools, the client's test venv pins pandas 3, so
 * they get a venv of their own.
 */
export const PYTHON_KUBEFLOW_REQUIREMENTS = path.join(PYTHON_CLIENT_DIR, 'requirements-kubeflow.txt');
/** uv itself, pinned; the same file TFDV's virtualenv is built with. */
const UV_REQUIREMENTS = path.resolve(__dirname, '..', 'tfdv', 'uv-requirements.txt');

const execFileAsync = promisify(execFile);

function venvDir(requirements: string): string {
  const hash = createHash('sha256');
  for (const file of [UV_REQUIREMENTS, requirements]) hash.update(readFileSync(file));
  // The client's own venv keeps the name it always had, so its cache survives this change.
  const name = requirements === PYTHON_CLIENT_REQUIREMENTS ? 'python-client' : path.basename(requirements, '.txt').replace(/^requirements-/, 'python-');
  return path.join(cacheDir(), `venv-${name}-${hash.digest('hex').slice(0, 12)}`);
}

const run = (command: string, args: string[], cwd?: string) =>
  execFileAsync(command, args, { cwd, timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, VIRTUAL_ENV: undefined, PIP_DISABLE_PIP_VERSION_CHECK: '1' } });

/**
 * The python of the client's test virtualenv (or of the one `requirements` pins), building
 * it when missing (a minute or so the first time). One venv per requirements content,
 * built beside its final place and
 * renamed in, so an interrupted build never looks finished. Run it as `python -m`.
 */
export async function pythonClientPython(requirements: string = PYTHON_CLIENT_REQUIREMENTS): Promise<string> {
  const dir = venvDir(requirements);
  if (existsSync(path.join(dir, '.larder-ready'))) return path.join(dir, 'bin', 'python');
  const building = `${dir}.building-${process.pid}`;
  const boot = `${building}-uv`;
  rmSync(building, { recursive: true, force: true });
  rmSync(boot, { recursive: true, force: true });
  mkdirSync(cacheDir(), { recursive: true });
  const python3 = process.env['LARDER_PYTHON'] ?? 'python3';
  try {
    await run(python3, ['-m', 'venv', boot]);
    await run(path.join(boot, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--no-input', '-r', UV_REQUIREMENTS]);
    const uv = path.join(boot, 'bin', 'uv');
    await run(uv, ['venv', '--quiet', '--python', python3, building]);
    await run(uv, ['pip', 'install', '--quiet', '--compile-bytecode', '--python', path.join(building, 'bin', 'python'), '-r', requirements]);
    writeFileSync(path.join(building, '.larder-ready'), readFileSync(requirements));
    try {
      renameSync(building, dir);
    } catch (error) {
      // Another run finished the same venv first; theirs is as good as ours.
      if (!existsSync(path.join(dir, '.larder-ready'))) throw error;
    }
  } finally {
    rmSync(boot, { recursive: true, force: true });
    rmSync(building, { recursive: true, force: true });
  }
  return path.join(dir, 'bin', 'python');
}

/**
 * Builds the `larder` wheel from the checkout (its build hook generates the gRPC stubs
 * from proto/) and installs it, without dependencies, into `target`: put that folder on
 * PYTHONPATH. This is the user's `pip install clients/python`, so a broken pyproject,
 * build hook or contract fails here; the venv's hatchling and grpcio-tools build it
 * (no build isolation: nothing is fetched at test time).
 */
export async function buildPythonClient(python: string, target: string): Promise<void> {
  rmSync(target, { recursive: true, force: true });
  await run(python, ['-m', 'pip', 'install', '--quiet', '--no-input', '--no-deps', '--no-build-isolation', '--target', target, PYTHON_CLIENT_DIR], REPO_ROOT);
}
