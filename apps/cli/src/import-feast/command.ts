// `larder import-feast <registry> [dir]`: a Feast 0.67 registry as a Larder feature repo.
import path from 'node:path';
import type { CommandContext } from '../command-spec';
import { formatJson, formatTable } from '../output';
import { readFeastRegistry } from './read-registry';
import { feastToRepo } from './to-repo';
import { DEFINITIONS_FILE, writeRepo } from './write-repo';

export async function importFeast(ctx: CommandContext): Promise<number> {
  const flags = ctx.flags as CommandContext['flags'] & { 'feast-repo'?: string; force?: boolean; redis?: string };
  const location = ctx.positionals[0] as string;
  const dir = path.resolve(ctx.io.cwd, ctx.positionals[1] ?? '.');
  const { registry, origin } = await readFeastRegistry(location, ctx.io.cwd);
  const repo = feastToRepo(registry, {
    project: flags.project,
    feastRepo: flags['feast-repo'] === undefined ? undefined : path.resolve(ctx.io.cwd, flags['feast-repo']),
    origin,
  });
  const files = await writeRepo(dir, repo, { redisUrl: flags.redis }, flags.force === true);
  if (ctx.flags.output === 'json') {
    ctx.io.out(
      formatJson({
        project: repo.project,
        repo: dir,
        files,
        imported: repo.imported,
        onDemandUdfs: repo.udfs.map((u) => ({ view: u.view, outputs: u.outputs })),
        notes: repo.notes,
      }),
    );
    return 0;
  }
  const lines = [
    `Imported project '${repo.project}' from ${origin} into ${dir} (${files.join(', ')}):`,
    formatTable(
      ['KIND', 'NAME'],
      repo.imported.map((o) => [o.kind, o.name]),
    ).trimEnd(),
  ];
  if (repo.udfs.length > 0) {
    lines.push(
      '',
      `On-demand views whose Python UDFs must be rewritten in CEL (each output fails every request until then; Feast's Python is in a comment above each in ${DEFINITIONS_FILE}):`,
    );
    for (const u of repo.udfs) lines.push(`  ${u.view}: ${u.outputs.join(', ')}`);
  }
  if (repo.notes.length > 0) lines.push('', 'Notes:', ...repo.notes.map((n) => `  - ${n}`));
  lines.push('', 'Next:', `  cd ${path.relative(ctx.io.cwd, dir) || '.'}`, '  larder plan', '  larder apply', '');
  ctx.io.out(lines.join('\n'));
  return 0;
}
