import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from './args';
import { openBackend, parseRegistryTarget } from './backend';
import type { RegistryBackend, RegistryTarget } from './backend';
import type { CommandContext } from './commands';

const CONFIG_FILE = 'larder.yaml';

/** The two keys of larder.yaml that every command needs, read without loading the definitions. */
export interface RepoSettings {
  repoPath: string;
  project: string | undefined;
  registry: RegistryTarget | undefined;
}

export function repoPath(ctx: CommandContext): string {
  return path.resolve(ctx.io.cwd, ctx.flags.repo ?? '.');
}

/** larder.yaml's project and registry, when the repo folder has one. */
export async function readRepoSettings(ctx: CommandContext): Promise<RepoSettings | undefined> {
  const dir = repoPath(ctx);
  const file = path.join(dir, CONFIG_FILE);
  if (!existsSync(file)) return undefined;
  const { parse } = await import('yaml');
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file}: not valid YAML: ${error instanceof Error ? error.message : String(error)}`);
  }
  const config = (raw ?? {}) as { project?: unknown; registry?: Record<string, unknown> };
  const registry = config.registry ?? {};
  const text = (key: string): string | undefined => (typeof registry[key] === 'string' ? registry[key] : undefined);
  const address = text('address');
  const store = text('url') ?? text('postgres') ?? text('path') ?? 'data/registry.db';
  return {
    repoPath: dir,
    project: typeof config.project === 'string' ? config.project : undefined,
    registry: address !== undefined ? { kind: 'remote', address } : { kind: 'store', location: store, baseDir: dir },
  };
}

/** --registry, then $LARDER_REGISTRY, then larder.yaml, then the embedded default. */
export async function registryTarget(ctx: CommandContext, settings?: RepoSettings): Promise<RegistryTarget> {
  if (ctx.flags.registry !== undefined) {
    if (ctx.flags.registry === '') throw new UsageError('--registry needs a value (host:port, a file path or postgres://…)');
    return parseRegistryTarget(ctx.flags.registry, ctx.io.cwd);
  }
  const env = ctx.io.env['LARDER_REGISTRY'];
  if (env !== undefined && env !== '') return parseRegistryTarget(env, ctx.io.cwd);
  const repo = settings ?? (await readRepoSettings(ctx));
  if (repo?.registry) return repo.registry;
  return { kind: 'store', location: path.join(os.homedir(), '.larder', 'registry.json'), baseDir: ctx.io.cwd };
}

export async function connect(ctx: CommandContext, settings?: RepoSettings): Promise<RegistryBackend> {
  return openBackend(await registryTarget(ctx, settings));
}

/**
 * --project, then larder.yaml's project, then the registry's only project.
 * Undefined when none of those decides and `required` is false.
 */
export async function resolveProject(ctx: CommandContext, backend: RegistryBackend, required: boolean): Promise<string | undefined> {
  if (ctx.flags.project !== undefined) return ctx.flags.project;
  const settings = await readRepoSettings(ctx);
  if (settings?.project !== undefined) return settings.project;
  const projects = await backend.listProjects();
  if (projects.length === 1) return projects[0]?.name;
  if (!required) return undefined;
  if (projects.length === 0) throw new Error(`the ${backend.description} has no projects yet; run 'larder apply' in a feature repo first`);
  throw new UsageError(`several projects in the registry (${projects.map((p) => p.name).join(', ')}); choose one with --project`);
}

/** Runs `fn` with a backend and always closes it. */
export async function withBackend<T>(ctx: CommandContext, fn: (backend: RegistryBackend) => Promise<T>, settings?: RepoSettings): Promise<T> {
  const backend = await connect(ctx, settings);
  try {
    return await fn(backend);
  } finally {
    await backend.close();
  }
}
