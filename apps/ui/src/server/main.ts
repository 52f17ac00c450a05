// The UI server on its own: `tsx apps/ui/src/server/main.ts` (npm start runs it beside
// the services). Stops on SIGTERM or SIGINT.
import { ConfigError } from '@larder/rpc';
import { startUiServer } from './ui-server';

async function main(): Promise<void> {
  let server;
  try {
    server = await startUiServer();
  } catch (error) {
    process.stderr.write(`ui: ${error instanceof ConfigError || error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main();
