import { kindName } from '@larder/core';
import { applyRequestOf, definitionFiles, loadFeatureRepo } from '@larder/feature-repo';
import { registryV1 } from '@larder/proto';
import { parseRegistryTarget } from '../backend';
import type { CommandContext } from '../command-spec';
import { openRegistry, repoPath, targetOf } from '../context';
import { formatJson, formatTable } from '../output';
import { Progress } from '../progress';
import { locateRejection } from '../rejection';
import { SourceCheckFailed } from '../failure';

const { ChangeType } = registryV1;

const SYMBOL: Record<number, string> = {
  [ChangeType.CREATE]: '+',
  [ChangeType.UPDATE]: '~',
  [ChangeType.DELETE]: '-',
  [ChangeType.UNCHANGED]: ' ',
};
const WORD: Record<number, string> = {
  [ChangeType.CREATE]: 'create',
  [ChangeType.UPDATE]: 'update',
  [ChangeType.DELETE]: 'delete',
  [ChangeType.UNCHANGED]: 'unchanged',
};

export const plan = (ctx: CommandContext): Promise<number> => applyRepo(ctx, true);
export const apply = (ctx: CommandContext): Promise<number> => applyRepo(ctx, false);

async function applyRepo(ctx: CommandContext, planOnly: boolean): Promise<number> {
  const progress = new Progress(ctx.io, ctx.flags.quiet !== true);
  const dir = repoPath(ctx);
  const repo = await progress.step(
    `Loading feature repo ${dir}`,
    () => loadFeatureRepo(dir),
    (loaded) => {
      const s = loaded.set;
      const objects =
        s.entities.length +
        s.dataSources.length +
        s.featureViews.length +
        s.onDemandFeatureViews.length +
        s.featureServices.length +
        s.savedDatasets.length +
        s.permissions.length;
      return `${objects} objects in ${definitionFiles(dir).length} files, valid`;
    },
  );
  const { config } = repo;
  if (ctx.flags.project !== undefined && ctx.flags.project !== config.project) {
    throw new Error(`--project ${ctx.flags.project} does not match larder.yaml's project ${config.project}`);
  }
  if ((ctx.flags as Record<string, unknown>)['skip-source-check'] !== true) {
    // Loaded here only: the check opens DuckDB (and the configured engine's client).
    const { checkRepoSources } = await import('../source-check');
    const problems = await progress.step(
      config.offlineStore.type === 'duckdb'
        ? 'Checking sources with DuckDB'
        : `Checking sources (files with DuckDB, tables with the ${config.offlineStore.type} offline store)`,
      () => checkRepoSources(repo),
      (found) => (found.length === 0 ? 'as declared' : `${found.length} problem${found.length === 1 ? '' : 's'}`),
    );
    if (problems.length > 0) throw new SourceCheckFailed(repo.config.repoPath, problems);
  }
  const flagTarget = ctx.flags.registry ?? ctx.io.env['LARDER_REGISTRY'];
  const target = flagTarget ? parseRegistryTarget(flagTarget, ctx.io.cwd) : targetOf(config.registry, config.repoPath);
  const backend = await openRegistry(ctx, target);
  try {
    const request = applyRequestOf(repo, { prune: (ctx.flags as Record<string, unknown>)['no-prune'] !== true, planOnly });
    const response = await progress.step(
      `${planOnly ? 'Planning against' : 'Applying to'} the ${backend.description}`,
      async () => {
        try {
          return await backend.apply(request);
        } catch (error) {
          throw await locateRejection(error, repo.sources, backend.description);
        }
      },
      (res) =>
        planOnly ? `registry at version ${res.version}` : res.applied ? `registry version ${res.version}` : `nothing to change (version ${res.version})`,
    );
    report(ctx, config.project, backend.description, response, planOnly);
    return 0;
  } finally {
    await backend.close();
  }
}

function report(ctx: CommandContext, project: string, registry: string, response: registryV1.ApplyRegistryResponse, planOnly: boolean): void {
  const count = (type: registryV1.ChangeType): number => response.diffs.filter((d) => d.change === type).length;
  const summary = {
    create: count(ChangeType.CREATE),
    update: count(ChangeType.UPDATE),
    delete: count(ChangeType.DELETE),
    unchanged: count(ChangeType.UNCHANGED),
  };
  if (ctx.flags.output === 'json') {
    ctx.io.out(
      formatJson({
        project,
        registry,
        plan_only: planOnly,
        applied: response.applied,
        version: response.version,
        summary,
        diffs: response.diffs.map((d) => ({ kind: kindName(d.kind), name: d.name, change: WORD[d.change] ?? 'unspecified', changed_fields: d.changedFields })),
      }),
    );
    return;
  }
  const changed = response.diffs.filter((d) => d.change !== ChangeType.UNCHANGED);
  if (changed.length > 0) {
    const rows = changed.map((d) => [SYMBOL[d.change] ?? '?', kindName(d.kind), d.name, d.changedFields.join(', ')]);
    ctx.io.out(formatTable(['', 'KIND', 'NAME', 'CHANGED FIELDS'], rows));
    ctx.io.out('\n');
  }
  const counts = `${summary.create} to create, ${summary.update} to update, ${summary.delete} to delete, ${summary.unchanged} unchanged`;
  if (planOnly) ctx.io.out(`Plan for project ${project}: ${counts}.\n`);
  else if (response.applied)
    ctx.io.out(
      `Applied project ${project}: ${counts.replaceAll('to ', '').replace('create', 'created').replace('update', 'updated').replace('delete', 'deleted')}; registry version ${response.version}.\n`,
    );
  else ctx.io.out(`Project ${project} is up to date (${summary.unchanged} objects unchanged); registry version ${response.version}.\n`);
}
