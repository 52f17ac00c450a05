// The polyglot clients by hand, against services already running:
//   tsx apps/e2e/src/main.ts setup
//   tsx apps/e2e/src/main.ts call larder.registry.v1.RegistryService=127.0.0.1:50051 ...
// `call` generates the stubs into a temporary folder, runs the Python and the Go
// client, and prints their JSON lines.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runGoClient, runPythonClient } from './clients';
import type { Target } from './clients';
import { buildGoClient, generateStubs } from './generate';
import { setupToolchain } from './toolchain';

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === 'setup') {
    await setupToolchain();
    return 0;
  }
  if (command === 'call' && rest.length > 0) {
    const targets = rest.map(parseTarget);
    const toolchain = await setupToolchain();
    const workDir = await mkdtemp(path.join(os.tmpdir(), 'larder-e2e-'));
    try {
      const stubs = await generateStubs(toolchain, path.join(workDir, 'stubs'));
      const goClient = await buildGoClient(toolchain, stubs, workDir);
      const records = [...(await runPythonClient(toolchain, stubs.pythonDir, targets)), ...(await runGoClient(goClient, targets))];
      for (const record of records) process.stdout.write(`${JSON.stringify(record)}\n`);
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
    return 0;
  }
  process.stderr.write('usage: main.ts setup | main.ts call SERVICE=HOST:PORT [SERVICE=HOST:PORT ...]\n');
  return 2;
}

function parseTarget(arg: string): Target {
  const at = arg.indexOf('=');
  if (at <= 0 || at === arg.length - 1) throw new Error(`expected SERVICE=HOST:PORT, got ${arg}`);
  return { service: arg.slice(0, at), address: arg.slice(at + 1) };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
