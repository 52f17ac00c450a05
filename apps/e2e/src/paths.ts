import os from 'node:os';
import path from 'node:path';

export const E2E_DIR = path.resolve(__dirname, '..');
export const REPO_ROOT = path.resolve(E2E_DIR, '../..');
export const PROTO_DIR = path.join(REPO_ROOT, 'proto');

export const PYTHON_REQUIREMENTS = path.join(E2E_DIR, 'toolchain/requirements.txt');
export const GO_TEMPLATE = path.join(E2E_DIR, 'buf.gen.go.yaml');
export const PYTHON_CLIENT = path.join(E2E_DIR, 'clients/python/larder_e2e_client.py');
export const GO_CLIENT_DIR = path.join(E2E_DIR, 'clients/go');

/** Toolchains live outside git and survive between runs; LARDER_CACHE_DIR moves them. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['LARDER_CACHE_DIR'] ?? path.join(os.homedir(), '.cache/larder');
}
