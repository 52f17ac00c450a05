import { execFile } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './larder-app';

export interface CliRun {
  /** The exit code; -1 when the process died of a signal or did not start. */
  code: number;
  stdout: string;
  stderr: string;
}

// The CLI finds services through these; a developer's shell must not steer a test.
const SERVICE_ADDRESSES = { LARDER_REGISTRY: '', LARDER_ONLINE_SERVING: '', LARDER_OFFLINE_RETRIEVAL: '', LARDER_MATERIALIZATION: '' };

/**
 * `larder ...` as a user runs it: apps/cli/src/main.ts under tsx in a child process
 * (by file path: libs never import apps), in `cwd`. Resolves with how it ended, never
 * rejects, so a test can assert on failures too. `env` adds to (and overrides) process.env.
 */
export function runLarderCli(args: readonly string[], cwd: string, env: Readonly<Record<string, string>> = {}): Promise<CliRun> {
  const tsx = path.join(REPO_ROOT, 'node_modules/.bin/tsx');
  const main = path.join(REPO_ROOT, 'apps/cli/src/main.ts');
  return new Promise((resolve) => {
    execFile(tsx, [main, ...args], { cwd, env: { ...process.env, ...SERVICE_ADDRESSES, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}
