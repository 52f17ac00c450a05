import { create } from '@bufbuild/protobuf';
import { KIND_NAMES, matchesFilter, parseKindName } from '@larder/core';
import { registryV1 } from '@larder/proto';
import { isKindInProject } from '@larder/registry-store';
import { UsageError, parseKeyValues } from '../args';
import type { CommandContext } from '../command-spec';
import { resolveProject, withBackend } from '../context';
import { objectJson, objectTable } from '../objects';
import { formatJson, formatTable } from '../output';

export function parseKind(text: string, command: string): registryV1.ObjectKind {
  const kind = parseKindName(text);
  if (kind === undefined) throw new UsageError(`unknown kind "${text}"; expected one of ${KIND_NAMES.join(', ')}`, command);
  return kind;
}

export async function list(ctx: CommandContext): Promise<number> {
  const kind = parseKind(ctx.positionals[0] as string, 'list');
  const prefix = ctx.flags['prefix'] as string | undefined;
  const filter = create(registryV1.ObjectFilterSchema, {
    namePrefix: prefix ?? '',
    tags: parseKeyValues(ctx.flags['tag'] as string[] | undefined, 'tag', 'list'),
  });
  return withBackend(ctx, async (backend) => {
    let objects;
    if (kind === registryV1.ObjectKind.PROJECT) {
      objects = (await backend.listProjects()).filter((p) => matchesFilter(p, filter));
    } else if (isKindInProject(kind)) {
      const project = (await resolveProject(ctx, backend, true)) as string;
      objects = await backend.list(kind, project, filter);
    } else throw new UsageError(`cannot list kind "${ctx.positionals[0]}"`, 'list');
    if (ctx.flags.output === 'json') ctx.io.out(formatJson(objects.map((o) => objectJson(kind, o))));
    else {
      const { headers, rows } = objectTable(kind, objects);
      ctx.io.out(formatTable(headers, rows));
    }
    return 0;
  });
}
