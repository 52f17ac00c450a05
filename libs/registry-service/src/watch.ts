import { create, toBinary } from '@bufbuild/protobuf';
import { registryV1 } from '@larder/proto';
import type { RegistryStore } from '@larder/registry-store';
import { Code, RpcError } from '@larder/rpc';

/** Ends open watch streams with UNAVAILABLE so clients reconnect to another replica. */
export class WatchStreams {
  private readonly stops = new Set<(error: RpcError) => void>();

  add(stop: (error: RpcError) => void): () => void {
    this.stops.add(stop);
    return () => void this.stops.delete(stop);
  }

  endAll(reason: string): void {
    const error = new RpcError(Code.UNAVAILABLE, reason);
    for (const stop of [...this.stops]) stop(error);
  }
}

/**
 * Largest part a WatchRegistry message is split into, in encoded bytes of changes.
 * Far below every receiver's limit (grpc's default is 4 MiB; ours 16 MiB), so a
 * large snapshot or commit never makes a service's registry copy stop following.
 */
export const WATCH_PART_BYTES = 1024 * 1024;

/**
 * One stream message as parts of at most `maxBytes` of changes each (an object
 * larger than that goes alone), all but the last marked `continued`.
 */
export function watchParts(message: registryV1.WatchRegistryResponse, maxBytes = WATCH_PART_BYTES): registryV1.WatchRegistryResponse[] {
  const parts: registryV1.RegistryChange[][] = [[]];
  let bytes = 0;
  for (const change of message.changes) {
    const size = toBinary(registryV1.RegistryChangeSchema, change).byteLength;
    const current = parts[parts.length - 1] as registryV1.RegistryChange[];
    if (current.length > 0 && bytes + size > maxBytes) {
      parts.push([change]);
      bytes = size;
    } else {
      current.push(change);
      bytes += size;
    }
  }
  if (parts.length === 1) return [message];
  return parts.map((changes, i) =>
    create(registryV1.WatchRegistryResponseSchema, { version: message.version, snapshot: message.snapshot, changes, continued: i < parts.length - 1 }),
  );
}

/**
 * The WatchRegistry stream: subscribe first (so nothing committed meanwhile
 * is missed), then a replay from since_version or a snapshot, then every
 * later version once, in order, narrowed to the watched project.
 */
export async function* watchRegistry(
  store: RegistryStore,
  streams: WatchStreams,
  req: registryV1.WatchRegistryRequest,
  signal: AbortSignal,
): AsyncGenerator<registryV1.WatchRegistryResponse> {
  const queue = new AsyncQueue<registryV1.WatchRegistryResponse>();
  const unsubscribe = store.subscribe((change) => queue.push(change));
  const unregister = streams.add((error) => queue.fail(error));
  const onAbort = (): void => queue.fail(new RpcError(Code.CANCELLED, 'watch cancelled'));
  signal.addEventListener('abort', onAbort);
  try {
    const narrow = (change: registryV1.WatchRegistryResponse): registryV1.WatchRegistryResponse =>
      req.project === ''
        ? change
        : create(registryV1.WatchRegistryResponseSchema, { ...change, changes: change.changes.filter((c) => c.project === req.project) });

    let last: bigint;
    const replay = req.sinceVersion > 0n ? await store.changesSince(req.sinceVersion) : undefined;
    if (replay === undefined) {
      const snapshot = await store.snapshot();
      yield* watchParts(narrow(snapshot));
      last = snapshot.version;
    } else {
      last = req.sinceVersion;
      for (const entry of replay) {
        yield* watchParts(narrow(entry));
        last = entry.version;
      }
    }
    for (;;) {
      const change = await queue.next();
      // A version already covered by the snapshot or the replay.
      if (change.version <= last) continue;
      yield* watchParts(narrow(change));
      last = change.version;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    unregister();
    unsubscribe();
  }
}

class AsyncQueue<T> {
  private readonly items: T[] = [];
  private waiter: { resolve: (item: T) => void; reject: (error: unknown) => void } | undefined;
  private error: unknown;

  push(item: T): void {
    if (this.waiter !== undefined) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve(item);
    } else this.items.push(item);
  }

  fail(error: unknown): void {
    this.error ??= error;
    if (this.waiter !== undefined) {
      const { reject } = this.waiter;
      this.waiter = undefined;
      reject(error);
    }
  }

  next(): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift() as T);
    if (this.error !== undefined) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }
}
