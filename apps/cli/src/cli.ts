import { UsageError, parseCommandArgs } from './args';
import type { FlagSpecs } from './args';
import { GLOBAL_FLAGS } from './command-spec';
import type { CommandContext, CommandSpec } from './command-spec';
import { COMMANDS, findCommand } from './commands';
import type { Io } from './output';
import cliPackage from '../package.json';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Runs one `larder` command line; resolves with the exit code. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const spec = topic === undefined ? undefined : findCommand(topic);
    io.out(spec ? commandHelp(spec) : mainHelp());
    return EXIT_OK;
  }
  if (name === '--version' || name === '-V') {
    io.out(`larder ${cliPackage.version}\n`);
    return EXIT_OK;
  }
  const spec = findCommand(name);
  try {
    if (spec === undefined) throw new UsageError(`unknown command "${name}"`);
    const flags = { ...GLOBAL_FLAGS, ...spec.flags } as FlagSpecs;
    const parsed = parseCommandArgs(rest, flags, spec.name);
    if ((parsed.flags as Record<string, unknown>)['help'] === true) {
      io.out(commandHelp(spec));
      return EXIT_OK;
    }
    const count = parsed.positionals.length;
    if (count < spec.minArgs) throw new UsageError(`missing argument: larder ${spec.name} ${spec.args}`, spec.name);
    if (count > spec.maxArgs) throw new UsageError(`unexpected argument "${parsed.positionals[spec.maxArgs]}"`, spec.name);
    const run = await spec.load();
    return await run({ io, positionals: parsed.positionals, flags: parsed.flags } as CommandContext);
  } catch (error) {
    return reportError(error, io, spec);
  }
}

async function reportError(error: unknown, io: Io, spec: CommandSpec | undefined): Promise<number> {
  if (error instanceof UsageError) {
    const where = error.command ?? spec?.name;
    io.err(`larder${where ? ` ${where}` : ''}: ${error.message}\n`);
    io.err(`Run 'larder ${where ? `${where} ` : ''}--help' for usage.\n`);
    return EXIT_USAGE;
  }
  const { describeFailure } = await import('./failure');
  io.err(`${describeFailure(error, io.env['LARDER_DEBUG'] === '1')}\n`);
  return EXIT_FAILED;
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'larder: the Larder feature store command line.',
    '',
    'Usage: larder <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global options:',
    ...flagLines(GLOBAL_FLAGS),
    '',
    "Run 'larder <command> --help' for a command's options.",
    'Exit codes: 0 success, 1 the operation failed, 2 bad usage.',
    '',
  ].join('\n');
}

function commandHelp(spec: CommandSpec): string {
  const own = Object.keys(spec.flags).length > 0 ? ['', 'Options:', ...flagLines(spec.flags)] : [];
  return [
    `Usage: larder ${spec.name}${spec.args ? ` ${spec.args}` : ''} [options]`,
    '',
    spec.summary,
    ...(spec.details ? [spec.details] : []),
    ...own,
    '',
    'Global options:',
    ...flagLines(GLOBAL_FLAGS),
    '',
  ].join('\n');
}

function flagLines(flags: FlagSpecs): string[] {
  const entries = Object.entries(flags).map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : '    ';
    const value = spec.type === 'boolean' ? '' : ` <${spec.value ?? 'value'}>`;
    return [`  ${short}--${name}${value}`, spec.help] as const;
  });
  const width = Math.max(...entries.map(([left]) => left.length));
  return entries.map(([left, help]) => `${left.padEnd(width)}  ${help}`);
}
