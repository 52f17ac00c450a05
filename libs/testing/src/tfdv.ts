// The real TFDV (tensorflow-data-validation from PyPI) in a cached virtualenv, for the
// tests that prove Larder's statistics, schemas and anomalies are TFDV-compatible.
import path from 'node:path';
import { readyVenvPython, uvVenvDir, uvVenvPython } from './uv-venv';

const files = path.resolve(__dirname, '..', 'tfdv');
/** The full resolved set, pinned (tensorflow-data-validation 1.16.1 and what it pulls in). */
export const TFDV_REQUIREMENTS = path.join(files, 'requirements.txt');

function venvDir(): string {
  return uvVenvDir('tfdv', TFDV_REQUIREMENTS);
}

/** The TFDV virtualenv's python when it is built for the current pins, else undefined. */
export function locateTfdv(): string | undefined {
  return readyVenvPython(venvDir());
}

/**
 * The python of a virtualenv holding TFDV, building it when missing (uv-venv.ts; about
 * half a minute). Run it as `python -m` / `python script.py`.
 */
export async function tfdvPython(): Promise<string> {
  return uvVenvPython(venvDir(), TFDV_REQUIREMENTS);
}
