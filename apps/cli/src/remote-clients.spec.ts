// Every client the CLI opens to a service must carry the global TLS and token settings
// (--tls-ca, --token-file, LARDER_CLIENT_*): a command that dials without them cannot
// reach a store run for a team, and fails with a confusing handshake error.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const SRC = __dirname;

function sourcesDialling(): { file: string; text: string }[] {
  const files = [...readdirSync(SRC).map((f) => path.join(SRC, f)), ...readdirSync(path.join(SRC, 'commands')).map((f) => path.join(SRC, 'commands', f))];
  return files
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'))
    .map((file) => ({ file: path.relative(SRC, file), text: readFileSync(file, 'utf8') }))
    .filter(({ text }) => /\bcreateClient\(/.test(text));
}

test('each createClient call in the CLI is given the client security settings', () => {
  const sources = sourcesDialling();
  expect(sources.map((s) => s.file)).toEqual(expect.arrayContaining(['commands/stats.ts', 'commands/historical.ts', 'remote-backend.ts']));
  const unsecured = sources.flatMap(({ file, text }) =>
    [...text.matchAll(/createClient\(([^;]*?)\);/gs)]
      .filter((call) => !/clientSecurity\(ctx\)|security\b/.test(call[1] ?? ''))
      .map((call) => `${file}: createClient(${(call[1] ?? '').slice(0, 80)})`),
  );
  expect(unsecured).toEqual([]);
});
