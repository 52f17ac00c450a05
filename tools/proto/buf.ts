// Runs the buf binary installed by @bufbuild/buf, from the repository root.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '../..');

const binDir = path.join(repoRoot, 'node_modules', '.bin');
const bufBin = path.join(binDir, process.platform === 'win32' ? 'buf.cmd' : 'buf');

// buf.gen.yaml names the plugin `protoc-gen-es`; buf finds it on PATH, which
// only `npm run` puts node_modules/.bin on. Add it so `tsx tools/proto/...` works too.
const env = { ...process.env, PATH: `${binDir}${path.delimiter}${process.env['PATH'] ?? ''}` };

/** Runs `buf <args>` with output passed through; throws when buf exits non-zero. */
export function buf(args: string[]): void {
  execFileSync(bufBin, args, { cwd: repoRoot, env, stdio: 'inherit' });
}
