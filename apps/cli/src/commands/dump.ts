import type { CommandContext } from '../command-spec';
import { withBackend } from '../context';
import { setJson } from '../objects';
import { formatJson } from '../output';

/** Always JSON: the dump is for scripts, diffs and backups. */
export async function dump(ctx: CommandContext): Promise<number> {
  return withBackend(ctx, async (backend) => {
    const { version, sets } = await backend.registrySets(ctx.flags.project ?? '');
    if (ctx.flags.project !== undefined && sets.length === 0) throw new Error(`project ${ctx.flags.project} is not in the ${backend.description}`);
    ctx.io.out(formatJson({ registry: backend.description, version, projects: sets.map(setJson) }));
    return 0;
  });
}
