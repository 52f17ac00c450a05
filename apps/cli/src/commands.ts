import type { FlagSpecs, FlagValues } from './args';
import type { Io } from './output';

export const GLOBAL_FLAGS = {
  repo: { type: 'string', short: 'r', value: 'dir', help: 'The feature repo (folder with larder.yaml); default: the current folder.' },
  registry: {
    type: 'string',
    value: 'target',
    help: 'A running registry service (host:port), or a registry the CLI opens itself (a file path or postgres://…). Default: $LARDER_REGISTRY, then larder.yaml\'s registry, then ~/.larder/registry.json.',
  },
  project: { type: 'string', short: 'p', value: 'name', help: "The project; default: larder.yaml's project, or the only project in the registry." },
  output: { type: 'string', short: 'o', value: 'table|json', help: 'Output format (default table).', choices: ['table', 'json'] },
  quiet: { type: 'boolean', short: 'q', help: 'No progress messages on stderr.' },
  help: { type: 'boolean', short: 'h', help: 'Show help.' },
} as const satisfies FlagSpecs;

export type GlobalFlags = FlagValues<typeof GLOBAL_FLAGS>;

export interface CommandContext<F extends FlagSpecs = FlagSpecs> {
  io: Io;
  positionals: string[];
  flags: FlagValues<F> & GlobalFlags;
}

export interface CommandSpec<F extends FlagSpecs = FlagSpecs> {
  name: string;
  summary: string;
  /** After "larder <name>", e.g. "[dir]" or "<kind> <name>". */
  args: string;
  minArgs: number;
  maxArgs: number;
  flags: F;
  /** Loaded only when the command runs, so `larder --help` stays fast. */
  load: () => Promise<(ctx: CommandContext<F>) => Promise<number>>;
  details?: string;
}

function command<F extends FlagSpecs>(spec: CommandSpec<F>): CommandSpec {
  return spec as unknown as CommandSpec;
}

const KINDS_HELP = 'Kinds: project, entity, data-source, feature-view, on-demand-feature-view, feature-service, saved-dataset (plural and short forms such as fv, odfv work too).';

export const COMMANDS: readonly CommandSpec[] = [
  command({
    name: 'init',
    summary: 'Create the driver-stats example feature repo, with sample Parquet data.',
    args: '[dir]',
    minArgs: 0,
    maxArgs: 1,
    flags: {},
    load: async () => (await import('./commands/init')).init,
    details: 'dir defaults to ./driver_stats.',
  }),
  command({
    name: 'plan',
    summary: 'Show what apply would change in the registry, without writing.',
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: { 'no-prune': { type: 'boolean', help: 'Keep registry objects the repo no longer defines (default: they would be deleted).' } },
    load: async () => (await import('./commands/apply')).plan,
  }),
  command({
    name: 'apply',
    summary: "Validate the feature repo and apply it to the registry as the project's whole definition.",
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: { 'no-prune': { type: 'boolean', help: 'Keep registry objects the repo no longer defines.' } },
    load: async () => (await import('./commands/apply')).apply,
  }),
  command({
    name: 'teardown',
    summary: 'Delete the project and every object in it from the registry.',
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: {},
    load: async () => (await import('./commands/teardown')).teardown,
  }),
  command({
    name: 'registry-dump',
    summary: 'Print the whole registry (or one project with --project) as JSON.',
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: {},
    load: async () => (await import('./commands/dump')).dump,
  }),
  command({
    name: 'list',
    summary: 'List the objects of one kind.',
    args: '<kind>',
    minArgs: 1,
    maxArgs: 1,
    flags: {
      prefix: { type: 'string', value: 'text', help: 'Only names starting with text.' },
      tag: { type: 'list', value: 'key=value', help: 'Only objects with this tag (repeatable).' },
    },
    load: async () => (await import('./commands/list')).list,
    details: KINDS_HELP,
  }),
  command({
    name: 'describe',
    summary: 'Show one object in full.',
    args: '<kind> <name>',
    minArgs: 2,
    maxArgs: 2,
    flags: {},
    load: async () => (await import('./commands/describe')).describe,
    details: KINDS_HELP,
  }),
  command({
    name: 'features',
    summary: 'Find features across views (discovery).',
    args: '',
    minArgs: 0,
    maxArgs: 0,
    flags: {
      name: { type: 'string', value: 'text', help: 'Feature name contains text (case-insensitive).' },
      query: { type: 'string', value: 'words', help: 'Free text over names, descriptions and tags; best match first.' },
      tag: { type: 'list', value: 'key=value', help: 'Feature (or view) tag (repeatable).' },
      owner: { type: 'string', value: 'owner', help: "The view's owner." },
      entity: { type: 'string', value: 'entity', help: 'Views keyed by this entity.' },
      type: { type: 'string', value: 'type', help: 'Value type: int64, double (float64), string, …' },
      view: { type: 'string', value: 'view', help: 'Only this feature view.' },
    },
    load: async () => (await import('./commands/features')).features,
  }),
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
