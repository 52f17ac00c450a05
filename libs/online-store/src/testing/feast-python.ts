// Runs the real `feast` package from PyPI (in a cached virtualenv) for the interoperability test.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/** Pinned: the newest feast on PyPI that installs on Python 3.11 when this was written. */
export const FEAST_REQUIREMENT = 'feast[redis]==0.67.0';

/**
 * Installed beside feast: grpcio runs the gRPC stubs that ship inside the feast package
 * (feast.protos...ServingService_pb2_grpc). Same pin as apps/e2e/toolchain, which
 * resolves with feast's protobuf (7.36.2). psycopg and its pool let feast apply write a
 * PostgreSQL SQL registry (and import feast's PostgreSQLSource) for larder import-feast's spec.
 */
export const FEAST_EXTRAS = ['grpcio==1.85.1', 'psycopg[binary]==3.3.9', 'psycopg-pool==3.3.0'];

const run = promisify(execFile);
const script = path.resolve(__dirname, '..', '..', 'test', 'feast_interop.py');

function venvDir(): string {
  return path.join(process.env['LARDER_CACHE_DIR'] ?? path.join(homedir(), '.cache', 'larder'), 'venv-feast');
}

/**
 * The virtualenv's python, creating the virtualenv first when missing or built for another
 * requirement (minutes the first time, then cached).
 */
export async function feastPython(): Promise<string> {
  const dir = venvDir();
  const python = path.join(dir, 'bin', 'python');
  const marker = path.join(dir, 'larder-requirement.txt');
  const wanted = [FEAST_REQUIREMENT, ...FEAST_EXTRAS];
  const installed = existsSync(python) && existsSync(marker) ? readFileSync(marker, 'utf8').trim().split('\n') : [];
  if (wanted.every((r) => installed.includes(r))) return python;
  if (installed[0] === FEAST_REQUIREMENT) {
    // The same feast, fewer extras: add them in place (another test may be using this venv now).
    await pip(
      python,
      wanted.filter((r) => !installed.includes(r)),
    );
  } else {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(path.dirname(dir), { recursive: true });
    await run('python3', ['-m', 'venv', dir], { timeout: 120_000 });
    await pip(python, wanted);
  }
  writeFileSync(marker, `${wanted.join('\n')}\n`);
  return python;
}

async function pip(python: string, requirements: readonly string[]): Promise<void> {
  await run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...requirements], {
    timeout: 20 * 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Sends one JSON request to test/feast_interop.py and returns its JSON answer. */
export function runFeast<T>(python: string, request: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`feast_interop.py exited with ${code}: ${err.slice(-4000)}`));
      else resolve(JSON.parse(out) as T);
    });
    child.stdin.end(JSON.stringify(request));
  });
}
