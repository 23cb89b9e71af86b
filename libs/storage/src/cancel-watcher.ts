import type { Redis } from 'ioredis';

/** A registration for one piece of work's cancel: see `CancelWatcher.listen`. */
export interface CancelListener {
  /** Calls the listener's `onCancel` unless it ran already: for a caller that found the cancel mark. */
  cancel(this: void): void;
  /** Stops listening. */
  close(this: void): void;
}

/**
 * Cancels announced on one pub/sub channel that every process hears, for the work this process
 * runs. The canceller marks the work first, then announces it: a process that registers before
 * checking the mark either hears the announce or finds the mark.
 */
export class CancelWatcher {
  private readonly subscriber: Redis;
  private readonly running = new Map<string, () => void>();

  constructor(redis: Redis, private readonly channel: string, onError: (err: Error) => void) {
    this.subscriber = redis.duplicate();
    this.subscriber.on('message', (_channel: string, id: string) => this.running.get(id)?.());
    this.subscriber.on('error', onError);
  }

  async start(): Promise<void> {
    await this.subscriber.subscribe(this.channel);
  }

  /**
   * Registers at once, so a caller that reads the cancel mark after this call (in a step of its own
   * that it makes anyway) misses no cancel: `onCancel` runs at most once, on the announce or on
   * the caller's `cancel()`.
   */
  listen(id: string, onCancel: () => void): CancelListener {
    let fired = false;
    const fire = () => {
      if (fired) return;
      fired = true;
      onCancel();
    };
    this.running.set(id, fire);
    return {
      cancel: fire,
      close: () => {
        if (this.running.get(id) === fire) this.running.delete(id);
      },
    };
  }

  /** Calls `onCancel` (at most once) if `id` is or gets cancelled while watched. Returns the unwatch function. */
  async watch(id: string, onCancel: () => void, requested: (id: string) => Promise<boolean>): Promise<() => void> {
    const listener = this.listen(id, onCancel);
    if (await requested(id)) listener.cancel();
    return listener.close;
  }

  async close(): Promise<void> {
    await this.subscriber.quit().catch(() => undefined);
  }
}
