import type { registryV1 } from '@larder/proto';
import type { ChangeListener } from './registry-store';

/** Fans committed versions out to subscribers; a throwing listener does not stop the others. */
export class ChangeFeed {
  private readonly listeners = new Set<ChangeListener>();

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  publish(change: registryV1.WatchRegistryResponse): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch {
        // A subscriber's failure is its own business; the store's commit stands.
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }

  close(): void {
    this.listeners.clear();
  }
}
