import { Injectable } from '@nestjs/common';

/**
 * Wakes a batch's runner when one of its lines ends in this process, so it tops the line queue up
 * at once; lines that end in other api processes are seen when its wait times out.
 */
@Injectable()
export class BatchSignals {
  private readonly waiters = new Map<string, Set<() => void>>();

  notify(batchId: string): void {
    for (const wake of this.waiters.get(batchId) ?? []) wake();
  }

  /** Resolves on the next `notify(batchId)`, after `ms`, or when `signal` aborts, whichever is first. */
  wait(batchId: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiters.get(batchId) ?? new Set();
      this.waiters.set(batchId, set);
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(batchId) === set) this.waiters.delete(batchId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
      if (signal.aborted) done();
      else signal.addEventListener('abort', done, { once: true });
    });
  }
}
