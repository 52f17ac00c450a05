import type { FlagSpecs, FlagValues } from './args';
import type { Io } from './output';

// What every command shares: the global flags, the context a command runs
// with, and the shape of a command's entry in the list (commands.ts).

export const GLOBAL_FLAGS = {
  repo: { type: 'string', short: 'r', value: 'dir', help: 'The feature repo (folder with larder.yaml); default: the current folder.' },
  registry: {
    type: 'string',
    value: 'target',
    help:
      'A running registry service (host:port), or a registry the CLI opens itself (a file path or postgres://…). ' +
      "Default: $LARDER_REGISTRY, then larder.yaml's registry, then ~/.larder/registry.json.",
  },
  project: { type: 'string', short: 'p', value: 'name', help: "The project; default: larder.yaml's project, or the only project in the registry." },
  output: { type: 'string', short: 'o', value: 'table|json', help: 'Output format (default table).', choices: ['table', 'json'] },
  quiet: { type: 'boolean', short: 'q', help: 'No progress messages on stderr.' },
  tls: {
    type: 'boolean',
    help: "Speak TLS to the services, trusting the system's CAs unless --tls-ca names a bundle (implied by --tls-ca, --tls-cert, --tls-server-name).",
  },
  'tls-ca': { type: 'string', value: 'file', help: "PEM CA bundle trusted for the services' certificates; default: $LARDER_CLIENT_TLS_CA_FILE." },
  'tls-cert': { type: 'string', value: 'file', help: 'PEM client certificate for mTLS, with --tls-key; default: $LARDER_CLIENT_TLS_CERT_FILE.' },
  'tls-key': { type: 'string', value: 'file', help: 'PEM private key of --tls-cert; default: $LARDER_CLIENT_TLS_KEY_FILE.' },
  'tls-server-name': {
    type: 'string',
    value: 'name',
    help: "The name the service's certificate must carry when it is not the host dialled; default: $LARDER_CLIENT_TLS_SERVER_NAME.",
  },
  'token-file': {
    type: 'string',
    value: 'file',
    help: 'Send the bearer token in this file (read again when it changes); default: $LARDER_CLIENT_TOKEN_FILE, else the token in $LARDER_TOKEN.',
  },
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

/** One entry of the command list, its flags typed for its own `load`. */
export function command<F extends FlagSpecs>(spec: CommandSpec<F>): CommandSpec {
  return spec as unknown as CommandSpec;
}
