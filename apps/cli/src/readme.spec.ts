// apps/cli/README.md's command table must list every command the CLI has, in the
// order `larder --help` shows them, and nothing it does not have.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { COMMANDS } from './commands';

const README = path.join(__dirname, '..', 'README.md');

/** The command names of the table's rows: "| `larder <name> …` | what |". */
function tableCommands(markdown: string): string[] {
  return markdown
    .split('\n')
    .map((line) => /^\|\s*`larder ([a-z][a-z-]*)\b/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

test('the README command table lists every command of the CLI, in its order', () => {
  expect(tableCommands(readFileSync(README, 'utf8'))).toEqual(COMMANDS.map((c) => c.name));
});

test("each row shows the command's arguments as --help does", () => {
  const rows = new Map(
    readFileSync(README, 'utf8')
      .split('\n')
      .flatMap((line) => {
        const match = /^\|\s*`larder ([a-z][a-z-]*)([^`]*)`/.exec(line);
        return match ? [[match[1] as string, (match[2] as string).trim()] as const] : [];
      }),
  );
  for (const command of COMMANDS) {
    if (command.args === '') continue;
    expect(`${command.name}: ${rows.get(command.name)?.startsWith(command.args) ? command.args : rows.get(command.name)}`).toBe(
      `${command.name}: ${command.args}`,
    );
  }
});
