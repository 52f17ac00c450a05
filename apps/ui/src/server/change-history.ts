import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { registryV1 } from '@larder/proto';
import type { RegistryClient, RegistryUpdate } from '@larder/registry-client';
import type { HistoryEntry, ObjectKindSlug } from '../shared/api';
import { kindSlug } from './kinds';

/** Entries kept per object: the newest ones. */
const PER_OBJECT = 50;
/** Objects tracked at most; past it the least recently changed are forgotten. */
const MAX_OBJECTS = 200_000;

const CHANGE_NAMES: Readonly<Record<number, HistoryEntry['change']>> = {
  [registryV1.ChangeType.CREATE]: 'CREATE',
  [registryV1.ChangeType.UPDATE]: 'UPDATE',
  [registryV1.ChangeType.DELETE]: 'DELETE',
};

const key = (project: string, kind: ObjectKindSlug, name: string): string => `${project}\u0000${kind}\u0000${name}`;

function iso(ts: Timestamp | undefined): string | undefined {
  return ts === undefined ? undefined : timestampDate(ts).toISOString();
}

function metaOf(change: registryV1.RegistryChange): registryV1.ObjectMeta | undefined {
  const object = change.object;
  if (object.case === undefined) return undefined;
  return (object.value as { meta?: registryV1.ObjectMeta }).meta;
}

/**
 * Each object's change history, from the registry's change feed (WatchRegistry, as the
 * UI server's registry copy follows it). The feed starts with a snapshot, which tells
 * for each object when it was created and when (at which registry version) it last
 * changed; every commit after that is recorded as it arrives, so the history is
 * complete from the UI server's start. A page shows an object's history only to a
 * viewer who may describe the object.
 */
export class ChangeHistory {
  private readonly entries = new Map<string, HistoryEntry[]>();
  private version = 0n;
  private readonly unsubscribe: () => void;

  constructor(registry: RegistryClient) {
    this.unsubscribe = registry.onChange((update) => this.apply(update));
  }

  close(): void {
    this.unsubscribe();
  }

  /** The registry version the history has reached. */
  get registryVersion(): bigint {
    return this.version;
  }

  of(project: string, kind: ObjectKindSlug, name: string): HistoryEntry[] {
    return [...(this.entries.get(key(project, kind, name)) ?? [])].reverse();
  }

  private apply(message: RegistryUpdate): void {
    for (const change of message.changes) {
      const kind = kindSlug(change.kind);
      if (kind === undefined) continue;
      const meta = metaOf(change);
      if (message.snapshot) {
        // What a snapshot knows: the creation, and the last change when there was one since.
        const list = this.entries.get(key(change.project, kind, change.name)) ?? [];
        const version = String(meta?.registryVersion ?? message.version);
        if (list.some((e) => e.version === version)) continue;
        const created = iso(meta?.createdTime);
        const updated = iso(meta?.updatedTime);
        if (list.length === 0 && created !== undefined && created !== updated)
          this.record(change.project, kind, change.name, { change: 'CREATE', time: created });
        this.record(change.project, kind, change.name, {
          version,
          change: list.length === 0 && created === updated ? 'CREATE' : 'UPDATE',
          ...(updated === undefined ? {} : { time: updated }),
        });
        continue;
      }
      const time = iso(meta?.updatedTime) ?? new Date().toISOString();
      this.record(change.project, kind, change.name, { version: String(message.version), change: CHANGE_NAMES[change.change] ?? 'UPDATE', time });
    }
    if (message.version > this.version) this.version = message.version;
  }

  private record(project: string, kind: ObjectKindSlug, name: string, entry: HistoryEntry): void {
    const k = key(project, kind, name);
    const list = this.entries.get(k) ?? [];
    // Re-inserted so the map's order is least recently changed first.
    this.entries.delete(k);
    list.push(entry);
    if (list.length > PER_OBJECT) list.splice(0, list.length - PER_OBJECT);
    this.entries.set(k, list);
    if (this.entries.size > MAX_OBJECTS) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
