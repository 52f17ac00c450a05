import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from './cli';
import type { Io } from './output';

function capture(): Io & { stdout: () => string } {
  let out = '';
  return {
    out: (text: string) => {
      out += text;
    },
    err: () => undefined,
    errIsTty: false,
    cwd: process.cwd(),
    env: {},
    stdout: () => out,
  };
}

test('larder --version and -V print the version in apps/cli/package.json', async () => {
  const { version } = JSON.parse(readFileSync(path.join(__dirname, '../package.json'), 'utf8')) as { version: string };
  expect(version).toMatch(/^\d+\.\d+\.\d+/);
  for (const flag of ['--version', '-V']) {
    const io = capture();
    expect(await runCli([flag], io)).toBe(0);
    expect(io.stdout()).toBe(`larder ${version}\n`);
  }
});
