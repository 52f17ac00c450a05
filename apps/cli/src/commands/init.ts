import path from 'node:path';
import { initRepo } from '@larder/feature-repo';
import type { CommandContext } from '../command-spec';
import { formatJson } from '../output';

export async function init(ctx: CommandContext): Promise<number> {
  const dir = path.resolve(ctx.io.cwd, ctx.positionals[0] ?? 'driver_stats');
  if (!ctx.flags.quiet) ctx.io.err(`Creating the driver-stats example repo in ${dir} …\n`);
  const result = await initRepo(dir);
  if (ctx.flags.output === 'json') {
    ctx.io.out(formatJson(result));
    return 0;
  }
  const relative = path.relative(ctx.io.cwd, result.repoPath) || '.';
  ctx.io.out(
    [
      `Created feature repo ${result.repoPath}`,
      ...result.files.map((f) => `  ${f}`),
      `Sample data: ${result.sampleRows} rows in data/driver_stats.parquet`,
      '',
      'Next:',
      `  cd ${relative}`,
      '  larder plan     # what apply would change',
      '  larder apply    # register the definitions',
      '',
    ].join('\n'),
  );
  return 0;
}
