import { create } from '@bufbuild/protobuf';
import { VALUE_TYPE_NAMES, parseValueTypeName } from '@larder/core';
import { registryV1, typesV1 } from '@larder/proto';
import { UsageError, parseKeyValues } from '../args';
import type { CommandContext } from '../command-spec';
import { repoConfig, withBackend } from '../context';
import { featureInfoJson, featureTable } from '../objects';
import { formatJson, formatTable } from '../output';

export async function features(ctx: CommandContext): Promise<number> {
  const flag = (name: string): string | undefined => ctx.flags[name] as string | undefined;
  const typeText = flag('type');
  const valueType = typeText === undefined ? typesV1.ValueType.UNSPECIFIED : parseValueTypeName(typeText);
  if (valueType === undefined) throw new UsageError(`unknown --type "${typeText}"; expected one of ${VALUE_TYPE_NAMES.join(', ')}`, 'features');
  const tags = parseKeyValues(ctx.flags['tag'] as string[] | undefined, 'tag', 'features');
  const nameContains = flag('name')?.toLowerCase();
  const query = flag('query');
  // Without --project, a feature repo narrows the search to its project; elsewhere every project is searched.
  const project = ctx.flags.project ?? (await repoConfig(ctx))?.project ?? '';

  return withBackend(ctx, async (backend) => {
    let found =
      query !== undefined
        ? await backend.searchFeatures(
            create(registryV1.SearchFeaturesRequestSchema, {
              query,
              project,
              tags,
              owner: flag('owner') ?? '',
              entity: flag('entity') ?? '',
              valueType,
              limit: 1000,
            }),
          )
        : await backend.listFeatures(
            create(registryV1.ListFeaturesRequestSchema, {
              project,
              filter: { tags },
              featureView: flag('view') ?? '',
              entity: flag('entity') ?? '',
              owner: flag('owner') ?? '',
              valueType,
            }),
          );
    if (query !== undefined && flag('view') !== undefined) found = found.filter((f) => f.featureView === flag('view'));
    if (nameContains !== undefined) found = found.filter((f) => f.name.toLowerCase().includes(nameContains));
    if (ctx.flags.output === 'json') ctx.io.out(formatJson(found.map(featureInfoJson)));
    else {
      const { headers, rows } = featureTable(found, project === '');
      ctx.io.out(formatTable(headers, rows));
      if (found.length === 0) ctx.io.err('No features match.\n');
    }
    return 0;
  });
}
