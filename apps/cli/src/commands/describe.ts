import { registryV1 } from '@larder/proto';
import { isKindInProject } from '@larder/registry-store';
import { UsageError } from '../args';
import type { CommandContext } from '../command-spec';
import { resolveProject, withBackend } from '../context';
import { objectJson } from '../objects';
import { formatJson } from '../output';
import { parseKind } from './list';

export async function describe(ctx: CommandContext): Promise<number> {
  const kind = parseKind(ctx.positionals[0] as string, 'describe');
  const name = ctx.positionals[1] as string;
  return withBackend(ctx, async (backend) => {
    let json;
    if (kind === registryV1.ObjectKind.PROJECT) json = objectJson(kind, await backend.getProject(name));
    else if (isKindInProject(kind)) {
      const project = (await resolveProject(ctx, backend, true)) as string;
      json = objectJson(kind, await backend.get(kind, project, name));
    } else throw new UsageError(`cannot describe kind "${ctx.positionals[0]}"`, 'describe');
    if (ctx.flags.output === 'json') ctx.io.out(formatJson(json));
    else {
      const { stringify } = await import('yaml');
      ctx.io.out(stringify(json));
    }
    return 0;
  });
}
