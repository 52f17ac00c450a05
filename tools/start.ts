// `npm start`: the whole store on one machine, in one process, on the
// embedded defaults. Each service keeps its own port, metrics endpoint and
// health, exactly as when it runs alone in its own pod.
import { runService } from '@larder/rpc';
import type { RunServiceOptions, ServerConfigSchema, ServerHandle } from '@larder/rpc';
import { ingestionService } from '../apps/ingestion/src/service';
import { materializationService } from '../apps/materialization/src/service';
import { offlineRetrievalService } from '../apps/offline-retrieval/src/service';
import { onlineServingService } from '../apps/online-serving/src/service';
import { registryService } from '../apps/registry/src/service';

// Each service has its own configuration schema, so each gets its own runner.
type Runner = (extra: { handleSignals: false; exit: (code: number) => void }) => Promise<ServerHandle | undefined>;
const runner =
  <S extends ServerConfigSchema>(service: RunServiceOptions<S>): Runner =>
  (extra) =>
    runService({ ...service, ...extra });
const services: Runner[] = [
  runner(registryService),
  runner(onlineServingService),
  runner(offlineRetrievalService),
  runner(materializationService),
  runner(ingestionService),
];

async function main(): Promise<void> {
  const handles: ServerHandle[] = [];
  let exitCode = 0;
  const fail = (code: number): void => {
    exitCode = Math.max(exitCode, code);
  };
  for (const service of services) {
    const handle = await service({ handleSignals: false, exit: fail });
    if (handle === undefined) {
      await Promise.all(handles.map((h) => h.shutdown('startup failed')));
      process.exit(exitCode || 1);
    }
    handles.push(handle);
  }

  const rows = handles.map((h) => `  ${h.name.padEnd(18)} grpc ${h.address.padEnd(16)} metrics ${h.metricsUrl ?? '-'}`);
  process.stderr.write(`\nLarder is running. Services:\n${rows.join('\n')}\nPress Ctrl-C to stop.\n\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1);
    stopping = true;
    void Promise.all(handles.map((h) => h.shutdown(signal))).then((results) => {
      const bad = results.some((r) => r.forced || r.errors.length > 0);
      process.exit(bad ? 1 : exitCode);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main();
