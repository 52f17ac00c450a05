/** The parts of an ObjectFilter that matter; registryV1.ObjectFilter fits. */
export interface NameTagFilter {
  namePrefix?: string;
  tags?: Readonly<Record<string, string>>;
}

/**
 * Whether an object passes a List filter: its name starts with
 * `namePrefix` (empty matches all) and it carries every tag of `tags` with
 * exactly that value. No filter matches everything.
 */
export function matchesFilter(obj: { name: string; tags?: Readonly<Record<string, string>> }, filter: NameTagFilter | undefined): boolean {
  if (filter === undefined) return true;
  if (filter.namePrefix !== undefined && !obj.name.startsWith(filter.namePrefix)) return false;
  return hasTags(obj.tags ?? {}, filter.tags ?? {});
}

/** Whether `tags` holds every entry of `wanted`. */
export function hasTags(tags: Readonly<Record<string, string>>, wanted: Readonly<Record<string, string>>): boolean {
  return Object.entries(wanted).every(([k, v]) => Object.hasOwn(tags, k) && tags[k] === v);
}
