import { create, equals } from '@bufbuild/protobuf';
import type { DescField, DescMessage, Message } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import type { RegistrySet } from './registry-set';

const { ObjectKind, ChangeType } = registryV1;

/** The object kinds of a RegistrySet besides the project, with their schemas. */
const COLLECTIONS = [
  { kind: ObjectKind.ENTITY, key: 'entities', schema: registryV1.EntitySchema },
  { kind: ObjectKind.DATA_SOURCE, key: 'dataSources', schema: registryV1.DataSourceSchema },
  { kind: ObjectKind.FEATURE_VIEW, key: 'featureViews', schema: registryV1.FeatureViewSchema },
  { kind: ObjectKind.ON_DEMAND_FEATURE_VIEW, key: 'onDemandFeatureViews', schema: registryV1.OnDemandFeatureViewSchema },
  { kind: ObjectKind.FEATURE_SERVICE, key: 'featureServices', schema: registryV1.FeatureServiceSchema },
  { kind: ObjectKind.SAVED_DATASET, key: 'savedDatasets', schema: registryV1.SavedDatasetSchema },
  { kind: ObjectKind.PERMISSION, key: 'permissions', schema: registryV1.PermissionSchema },
] as const;

const OBJECT_META = 'larder.registry.v1.ObjectMeta';

type AnyMessage = Message & Record<string, unknown>;

function isWellKnown(desc: DescMessage): boolean {
  return desc.typeName.startsWith('google.protobuf.');
}

function equalValue(field: DescField, a: unknown, b: unknown): boolean {
  switch (field.fieldKind) {
    case 'message':
      if (a === undefined || b === undefined) return a === b;
      return equals(field.message, a as Message, b as Message);
    case 'list': {
      const x = a as unknown[];
      const y = b as unknown[];
      if (x.length !== y.length) return false;
      return x.every((item, i) => (field.listKind === 'message' ? equals(field.message, item as Message, y[i] as Message) : scalarEquals(item, y[i])));
    }
    case 'map':
      return mapEquals(field, a as Record<string, unknown>, b as Record<string, unknown>).length === 0;
    default:
      return scalarEquals(a, b);
  }
}

function scalarEquals(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

/** Keys whose values differ between two proto maps. */
function mapEquals(field: DescField & { fieldKind: 'map' }, a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const changed: string[] = [];
  for (const key of keys) {
    const x = a[key];
    const y = b[key];
    if (x === undefined || y === undefined) {
      if (x !== y) changed.push(key);
    } else if (field.mapKind === 'message' ? !equals(field.message, x as Message, y as Message) : !scalarEquals(x, y)) {
      changed.push(key);
    }
  }
  return changed.sort();
}

/**
 * The paths of the fields that differ between two messages of one type, in
 * proto field names: a scalar, list or well-known-type field by its name
 * (`ttl`, `schema`, `entities`), a map by entry (`tags.team`), a nested
 * message or oneof by the path inside it (`kind.kafka.topic`); a oneof that
 * switched case by the oneof's name (`kind`). ObjectMeta is never compared.
 */
export function changedFields(desc: DescMessage, before: Message, after: Message, prefix = ''): string[] {
  const a = before as AnyMessage;
  const b = after as AnyMessage;
  const out: string[] = [];
  for (const member of desc.members) {
    if (member.kind === 'oneof') {
      const x = a[member.localName] as { case: string | undefined; value?: unknown };
      const y = b[member.localName] as { case: string | undefined; value?: unknown };
      if (x.case !== y.case) {
        out.push(prefix + member.name);
        continue;
      }
      const field = member.fields.find((f) => f.localName === x.case);
      if (field !== undefined) out.push(...fieldChanges(field, x.value, y.value, `${prefix}${member.name}.`));
      continue;
    }
    if (member.fieldKind === 'message' && member.message.typeName === OBJECT_META) continue;
    out.push(...fieldChanges(member, a[member.localName], b[member.localName], prefix));
  }
  return out;
}

function fieldChanges(field: DescField, x: unknown, y: unknown, prefix: string): string[] {
  const path = prefix + field.name;
  if (field.fieldKind === 'map') {
    return mapEquals(field, x as Record<string, unknown>, y as Record<string, unknown>).map((key) => `${path}.${key}`);
  }
  if (field.fieldKind === 'message' && !isWellKnown(field.message) && x !== undefined && y !== undefined) {
    return changedFields(field.message, x as Message, y as Message, `${path}.`);
  }
  return equalValue(field, x, y) ? [] : [path];
}

function diff(kind: registryV1.ObjectKind, name: string, change: registryV1.ChangeType, changed: string[] = []): registryV1.ObjectDiff {
  return create(registryV1.ObjectDiffSchema, { kind, name, change, changedFields: changed });
}

/**
 * What applying `after` over `before` does, one ObjectDiff per object in
 * kind then name order: CREATE for new objects, UPDATE (with the changed
 * field paths) or UNCHANGED for existing ones, and, with `prune`, DELETE for
 * objects of `before` that `after` does not list (saved datasets are never
 * pruned, and the project itself is never deleted). Without prune, objects
 * only in `before` are left alone and not listed. `before` undefined means
 * the project does not exist yet. The project's name and every ObjectMeta
 * are ignored.
 */
export function diffRegistrySets(before: RegistrySet | undefined, after: RegistrySet, opts: { prune: boolean }): registryV1.ObjectDiff[] {
  const diffs: registryV1.ObjectDiff[] = [];
  const projectName = after.project.name;
  if (before === undefined) {
    diffs.push(diff(ObjectKind.PROJECT, projectName, ChangeType.CREATE));
  } else {
    const changed = changedFields(registryV1.ProjectSchema, before.project, after.project).filter((f) => f !== 'name');
    diffs.push(diff(ObjectKind.PROJECT, projectName, changed.length > 0 ? ChangeType.UPDATE : ChangeType.UNCHANGED, changed));
  }

  for (const { kind, key, schema } of COLLECTIONS) {
    const old = new Map<string, Message>((before?.[key] ?? []).map((o) => [o.name, o]));
    const seen = new Set<string>();
    const group: registryV1.ObjectDiff[] = [];
    for (const obj of after[key]) {
      // A name listed twice is a validation error; diff only its last definition.
      if (seen.has(obj.name))
        group.splice(
          group.findIndex((d) => d.name === obj.name),
          1,
        );
      seen.add(obj.name);
      const previous = old.get(obj.name);
      if (previous === undefined) {
        group.push(diff(kind, obj.name, ChangeType.CREATE));
        continue;
      }
      const changed = changedFields(schema, previous, obj);
      group.push(diff(kind, obj.name, changed.length > 0 ? ChangeType.UPDATE : ChangeType.UNCHANGED, changed));
    }
    if (opts.prune && kind !== ObjectKind.SAVED_DATASET) {
      for (const name of old.keys()) {
        if (!seen.has(name)) group.push(diff(kind, name, ChangeType.DELETE));
      }
    }
    group.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    diffs.push(...group);
  }
  return diffs;
}

/** Whether any diff would change something (anything but UNCHANGED). */
export function hasChanges(diffs: readonly registryV1.ObjectDiff[]): boolean {
  return diffs.some((d) => d.change !== ChangeType.UNCHANGED);
}
