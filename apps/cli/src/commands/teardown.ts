import type { CommandContext } from '../command-spec';
import { repoConfig, resolveProject, withBackend } from '../context';
import { formatJson } from '../output';

export async function teardown(ctx: CommandContext): Promise<number> {
  const settings = await repoConfig(ctx);
  return withBackend(
    ctx,
    async (backend) => {
      const project = (await resolveProject(ctx, backend, true)) as string;
      if (!ctx.flags.quiet) ctx.io.err(`Deleting project ${project} from the ${backend.description} …\n`);
      const version = await backend.deleteProject(project);
      if (ctx.flags.output === 'json') ctx.io.out(formatJson({ project, deleted: true, version }));
      else ctx.io.out(`Deleted project ${project} and every object in it; registry version ${version}.\n`);
      return 0;
    },
    settings,
  );
}
