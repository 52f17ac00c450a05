import { runCli } from './cli';
import { processIo } from './output';

// Only the argument parser and the command table load here; each command
// imports what it needs when it runs.
void runCli(process.argv.slice(2), processIo()).then(
  (code) => {
    // Exit now: a store or channel left open must not keep a finished command alive.
    process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`larder: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
