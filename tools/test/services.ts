// The services `npm test` starts (Redis, PostgreSQL, Kafka, the BigQuery emulator), for a
// contributor running nx targets by hand:
//
//   npm run services                 start them, print the `export` lines, stop on Ctrl-C
//   npm run services -- CMD [ARGS]   start them, run CMD with their environment, stop after
//   npm run affected                 the same with `nx affected -t lint typecheck test test-tz`
//                                    against main (extra args go to nx: `-- --base=HEAD~1`)
//
// The exit code is the command's (or 1 when the services could not start).
import { ensurePrerequisites, startTestServices, type RunningTestServices } from '@larder/testing';
import { runStep, stopRunningSteps } from './steps';

let running: RunningTestServices | undefined;
let stopping: Promise<void> | undefined;

function stop(): Promise<void> {
  stopping ??= (async () => {
    await stopRunningSteps();
    await running?.stop();
  })();
  return stopping;
}

async function main(): Promise<number> {
  const [command, ...args] = process.argv.slice(2);
  running = await startTestServices(await ensurePrerequisites(say), say);
  // NODE_OPTIONS for jest is added by the test targets themselves (jest-project.ts).
  const env = running.env;
  if (command === undefined) {
    say('services are up; in another shell:');
    for (const [name, value] of Object.entries(env)) console.log(`export ${name}='${value.replace(/'/g, `'\\''`)}'`);
    say('Ctrl-C stops them');
    await new Promise<never>(() => undefined);
  }
  const code = await runStep(command!, args, {
    cwd: process.cwd(),
    env: { ...process.env, ...env },
    onStart: (pgid) => running?.supervisor.adoptGroup(pgid),
  });
  await stop();
  return code;
}

function say(line: string): void {
  console.error(`[services] ${line}`);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    say(`${signal}: stopping the services`);
    void stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    await stop().catch(() => undefined);
    process.exit(1);
  },
);
