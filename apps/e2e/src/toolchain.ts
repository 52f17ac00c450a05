import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cacheDir } from '@larder/testing';
import { GO_CLIENT_DIR, PYTHON_REQUIREMENTS } from './paths';
import { CommandError, run } from './run';

/**
 * The Go code generators, pinned. protoc-gen-go ships with the protobuf runtime
 * the client's go.mod requires, so the generated code and the runtime match.
 */
export const GO_PLUGINS = ['google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12', 'google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2'] as const;

export interface Toolchain {
  /** The virtualenv's interpreter, with grpcio and grpcio-tools installed. */
  python: string;
  /** Holds protoc-gen-go and protoc-gen-go-grpc. */
  goBin: string;
  /** Environment for go, buf and the plugins: goBin on PATH, modules resolved from go.mod. */
  env: NodeJS.ProcessEnv;
}

export interface SetupOptions {
  env?: NodeJS.ProcessEnv;
  /** One line per step; stderr by default. */
  log?: (line: string) => void;
}

/** Installs (or finds cached) everything the polyglot clients need. Safe to run again. */
export async function setupToolchain(options: SetupOptions = {}): Promise<Toolchain> {
  const baseEnv = options.env ?? process.env;
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const root = cacheDir(baseEnv);
  const goBin = path.join(root, 'go-bin');
  const env = goEnv(baseEnv, goBin);

  const { python } = await step(log, 'python virtualenv', () => ensurePythonVenv(root, baseEnv));
  await step(log, 'go code generators', () => ensureGoPlugins(goBin, env));
  await step(log, 'go client modules', async () => {
    await run('go', ['mod', 'download'], { cwd: GO_CLIENT_DIR, env });
    return 'downloaded or cached';
  });
  return { python, goBin, env };
}

function goEnv(base: NodeJS.ProcessEnv, goBin: string): NodeJS.ProcessEnv {
  const flags = (base['GOFLAGS'] ?? '').split(/\s+/).filter((f) => f !== '' && !f.startsWith('-mod='));
  return {
    ...base,
    PATH: [goBin, '/usr/local/go/bin', base['PATH'] ?? ''].join(path.delimiter),
    GOFLAGS: [...flags, '-mod=mod'].join(' '),
    // A go.mod asking for a newer Go must fail here, not fetch a toolchain.
    GOTOOLCHAIN: 'local',
  };
}

async function step<T>(log: (line: string) => void, name: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    const result = await work();
    log(`e2e toolchain: ${name}: ${describe(result)} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
    return result;
  } catch (error) {
    log(`e2e toolchain: ${name}: FAILED`);
    throw error;
  }
}

function describe(result: unknown): string {
  if (typeof result === 'string') return result;
  if (typeof result === 'object' && result !== null && 'state' in result) return String(result.state);
  return 'ok';
}

/**
 * One virtualenv per requirements file content, so a pin change builds a new one
 * instead of mutating the old. Built beside its final place and renamed in, so an
 * interrupted install never looks finished. The move leaves the launchers in bin/
 * pointing at the old path, which is why everything runs as `python -m`.
 */
async function ensurePythonVenv(root: string, env: NodeJS.ProcessEnv): Promise<{ python: string; state: string }> {
  const requirements = await readFile(PYTHON_REQUIREMENTS, 'utf8');
  const key = createHash('sha256').update(requirements).digest('hex').slice(0, 12);
  const venv = path.join(root, `python-venv-${key}`);
  const python = path.join(venv, 'bin/python');
  if (existsSync(path.join(venv, '.larder-ready'))) return { python, state: `cached in ${venv}` };

  const building = `${venv}.building-${process.pid}`;
  await rm(building, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const interpreter = env['LARDER_PYTHON'] ?? 'python3';
  await createVenv(interpreter, building, env);
  await run(path.join(building, 'bin/python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--quiet', '-r', PYTHON_REQUIREMENTS], {
    env,
  });
  await writeFile(path.join(building, '.larder-ready'), requirements);
  try {
    await rename(building, venv);
  } catch (error) {
    // Another run finished the same venv first; theirs is as good as ours.
    if (!existsSync(path.join(venv, '.larder-ready'))) throw error;
    await rm(building, { recursive: true, force: true });
  }
  return { python, state: `installed in ${venv}` };
}

/** Debian's python3 lacks ensurepip until python3-venv is installed; as root we add it. */
async function createVenv(interpreter: string, dir: string, env: NodeJS.ProcessEnv): Promise<void> {
  try {
    await run(interpreter, ['-m', 'venv', dir], { env });
    return;
  } catch (error) {
    const missingEnsurepip = error instanceof CommandError && /ensurepip|python3-venv/.test(error.stderr);
    if (!missingEnsurepip || process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) throw error;
  }
  await rm(dir, { recursive: true, force: true });
  const minor = (await run(interpreter, ['-c', 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")'])).stdout.trim();
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = ['install', '-y', '--no-install-recommends', 'python3-venv', `python${minor}-venv`];
  try {
    await run('apt-get', install, { env: aptEnv });
  } catch {
    await run('apt-get', ['update'], { env: aptEnv });
    await run('apt-get', install, { env: aptEnv });
  }
  await run(interpreter, ['-m', 'venv', dir], { env });
}

async function ensureGoPlugins(goBin: string, env: NodeJS.ProcessEnv): Promise<string> {
  const stamp = path.join(goBin, '.larder-plugins');
  const wanted = GO_PLUGINS.join('\n');
  const binaries = ['protoc-gen-go', 'protoc-gen-go-grpc'].map((name) => path.join(goBin, name));
  const stamped = existsSync(stamp) ? await readFile(stamp, 'utf8') : '';
  if (stamped === wanted && binaries.every((file) => existsSync(file))) return 'cached';

  await mkdir(goBin, { recursive: true });
  // `go install x@v` takes one module per call.
  for (const plugin of GO_PLUGINS) {
    await run('go', ['install', plugin], { env: { ...env, GOBIN: goBin, GOFLAGS: '' } });
  }
  await writeFile(stamp, wanted);
  return `installed ${GO_PLUGINS.map((p) => p.split('/').pop()).join(', ')}`;
}
