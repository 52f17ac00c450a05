import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RegistryLocation, RepoConfig } from '@larder/feature-repo';
import { UsageError } from './args';
import { openBackend, parseRegistryTarget } from './backend';
import type { RegistryBackend, RegistryTarget } from './backend';
import type { CommandContext } from './command-spec';
import { clientSecurity } from './security';

export function repoPath(ctx: CommandContext): string {
  return path.resolve(ctx.io.cwd, ctx.flags.repo ?? '.');
}

/**
 * The repo's larder.yaml alone, when the folder has one: list, describe and
 * teardown need its project and registry even when the definitions are broken.
 */
export async function repoConfig(ctx: CommandContext): Promise<RepoConfig | undefined> {
  const dir = repoPath(ctx);
  // Loaded on demand, like every command's modules: the whole repo loader is heavy.
  const { CONFIG_FILE, readRepoConfig } = await import('@larder/feature-repo');
  if (!existsSync(path.join(dir, CONFIG_FILE))) return undefined;
  return readRepoConfig(dir);
}

export function targetOf(location: RegistryLocation, repo: string): RegistryTarget {
  switch (location.kind) {
    case 'remote':
      return { kind: 'remote', address: location.address };
    case 'postgres':
      return { kind: 'store', location: location.url, baseDir: repo };
    case 'file':
      return { kind: 'store', location: location.path, baseDir: repo };
  }
}

/** --registry, then $LARDER_REGISTRY, then larder.yaml, then the embedded default. */
export async function registryTarget(ctx: CommandContext, settings?: RepoConfig): Promise<RegistryTarget> {
  if (ctx.flags.registry !== undefined) {
    if (ctx.flags.registry === '') throw new UsageError('--registry needs a value (host:port, a file path or postgres://…)');
    return parseRegistryTarget(ctx.flags.registry, ctx.io.cwd);
  }
  const env = ctx.io.env['LARDER_REGISTRY'];
  if (env !== undefined && env !== '') return parseRegistryTarget(env, ctx.io.cwd);
  const repo = settings ?? (await repoConfig(ctx));
  if (repo !== undefined) return targetOf(repo.registry, repo.repoPath);
  return { kind: 'store', location: path.join(os.homedir(), '.larder', 'registry.json'), baseDir: ctx.io.cwd };
}

export async function connect(ctx: CommandContext, settings?: RepoConfig): Promise<RegistryBackend> {
  return openRegistry(ctx, await registryTarget(ctx, settings));
}

/** Opens the registry `target`; a registry service is dialled with the TLS and token settings (--tls-ca, --token-file, …). */
export async function openRegistry(ctx: CommandContext, target: RegistryTarget): Promise<RegistryBackend> {
  return openBackend(target, target.kind === 'remote' ? await clientSecurity(ctx) : {});
}

/**
 * --project, then larder.yaml's project, then the registry's only project.
 * Undefined when none of those decides and `required` is false.
 */
export async function resolveProject(ctx: CommandContext, backend: RegistryBackend, required: boolean): Promise<string | undefined> {
  if (ctx.flags.project !== undefined) return ctx.flags.project;
  const settings = await repoConfig(ctx);
  if (settings !== undefined) return settings.project;
  const projects = await backend.listProjects();
  if (projects.length === 1) return projects[0]?.name;
  if (!required) return undefined;
  if (projects.length === 0) throw new Error(`the ${backend.description} has no projects yet; run 'larder apply' in a feature repo first`);
  throw new UsageError(`several projects in the registry (${projects.map((p) => p.name).join(', ')}); choose one with --project`);
}

/** Runs `fn` with a backend and always closes it. */
export async function withBackend<T>(ctx: CommandContext, fn: (backend: RegistryBackend) => Promise<T>, settings?: RepoConfig): Promise<T> {
  const backend = await connect(ctx, settings);
  try {
    return await fn(backend);
  } finally {
    await backend.close();
  }
}
