import type { CallGate } from './adapter/server-adapter';
import type { HandlerContext } from './adapter/types';
import { Code } from './code';
import { RpcError } from './rpc-error';

interface TrackedCall {
  ctx: HandlerContext;
  abort: (reason: RpcError) => void;
  drainable: boolean;
}

/**
 * Knows every call in flight. Once closed to new work, drainable calls
 * (application rpcs) are refused with UNAVAILABLE; internal ones (health,
 * reflection) keep being answered until the port closes.
 */
export class CallTracker implements CallGate {
  private readonly calls = new Set<TrackedCall>();
  private accepting = true;
  private idleWaiters: Array<() => void> = [];

  admit(ctx: HandlerContext, abort: (reason: RpcError) => void, drainable: boolean): RpcError | (() => void) {
    if (!this.accepting && drainable) return new RpcError(Code.UNAVAILABLE, 'server is shutting down; retry on another instance');
    const call: TrackedCall = { ctx, abort, drainable };
    this.calls.add(call);
    return () => {
      this.calls.delete(call);
      if (this.drainableCount() === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const wake of waiters) wake();
      }
    };
  }

  stopAccepting(): void {
    this.accepting = false;
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  drainableCount(): number {
    let n = 0;
    for (const call of this.calls) if (call.drainable) n++;
    return n;
  }

  size(): number {
    return this.calls.size;
  }

  /** Resolves once no drainable call is in flight. */
  drained(): Promise<void> {
    if (this.drainableCount() === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  abortAll(reason: RpcError, which: 'all' | 'internal' = 'all'): number {
    let n = 0;
    for (const call of this.calls) {
      if (which === 'all' || !call.drainable) {
        call.abort(reason);
        n++;
      }
    }
    return n;
  }
}
