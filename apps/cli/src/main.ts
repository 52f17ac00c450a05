import { runCli } from './cli';
import { processIo } from './output';

/**
 * Resolves once everything written to `stream` so far has reached the OS. On a pipe
 * Node writes asynchronously: exiting before this cut output to the pipe's 64 KiB
 * buffer. A reader that went away (EPIPE) counts as drained.
 */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || !stream.writable) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('error', () => resolve());
    stream.write('', () => resolve());
  });
}

async function exitWhenFlushed(code: number): Promise<never> {
  process.exitCode = code;
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  // Exit now: a store or channel left open must not keep a finished command alive.
  process.exit(code);
}

// Only the argument parser and the command table load here; each command
// imports what it needs when it runs.
void runCli(process.argv.slice(2), processIo()).then(
  (code) => exitWhenFlushed(code),
  (error: unknown) => {
    process.stderr.write(`larder: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return exitWhenFlushed(1);
  },
);
