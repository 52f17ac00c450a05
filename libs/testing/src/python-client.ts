// The Python client's test environment (clients/python/requirements-test.txt: grpcio,
// grpcio-tools, pandas, pyarrow, pytest, tqdm, hatchling, nbclient...) in a cached
// virtualenv, built by uv as tfdv.ts builds TFDV's, and the client's wheel built from
// the checkout into a folder of its own for each run.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { runPython, uvVenvDir, uvVenvPython } from './uv-venv';

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

function venvDir(requirements: string): string {
  // The client's own venv keeps the name it always had, so its cache survives.
  const name = requirements === PYTHON_CLIENT_REQUIREMENTS ? 'python-client' : path.basename(requirements, '.txt').replace(/^requirements-/, 'python-');
  return uvVenvDir(name, requirements);
}

/**
 * The python of the client's test virtualenv (or of the one `requirements` pins), building
 * it when missing (a minute or so the first time; uv-venv.ts). Run it as `python -m`.
 */
export async function pythonClientPython(requirements: string = PYTHON_CLIENT_REQUIREMENTS): Promise<string> {
  return uvVenvPython(venvDir(requirements), requirements, { compileBytecode: true });
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
  await runPython(
    python,
    ['-m', 'pip', 'install', '--quiet', '--no-input', '--no-deps', '--no-build-isolation', '--target', target, PYTHON_CLIENT_DIR],
    REPO_ROOT,
  );
}
