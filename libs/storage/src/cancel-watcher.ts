import type { Redis } from 'ioredis';

/**
 * Cancels announced on one pub/sub channel that every process hears, for the work this process
 * runs. The canceller marks the work first, then announces it: a process that registers before
 * checking the mark either hears the announce or finds the mark.
 */
export class CancelWatcher {
  private readonly subscriber: Redis;
  private readonly running = new Map<string, () => void>();

  constructor(
    redis: Redis,
    private readonly channel: string,
    private readonly requested: (id: string) => Promise<boolean>,
    onError: (err: Error) => void,
  ) {
    this.subscriber = redis.duplicate();
    this.subscriber.on('message', (_channel: string, id: string) => this.running.get(id)?.());
    this.subscriber.on('error', onError);
  }

  async start(): Promise<void> {
    await this.subscriber.subscribe(this.channel);
  }

  /** Calls `onCancel` (at most once) if `id` is or gets cancelled while watched. Returns the unwatch function. */
  async watch(id: string, onCancel: () => void): Promise<() => void> {
    let fired = false;
    const fire = () => {
      if (fired) return;
      fired = true;
      onCancel();
    };
    this.running.set(id, fire);
    if (await this.requested(id)) fire();
    return () => this.running.delete(id);
  }

  async close(): Promise<void> {
    await this.subscriber.quit().catch(() => undefined);
  }
}
