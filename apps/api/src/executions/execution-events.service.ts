import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { ExecutionEvent } from '@cibox/contracts';
import { redisKeys } from '@cibox/queue';
import { REDIS } from '@cibox/storage';

export interface EventSubscription extends AsyncIterable<ExecutionEvent> {
  close(): Promise<void>;
}

/** One Redis subscriber connection for the whole api, fanning execution events out to requests. */
@Injectable()
export class ExecutionEvents implements OnModuleDestroy {
  private readonly subscriber: Redis;
  private readonly listeners = new Map<string, (event: ExecutionEvent) => void>();

  constructor(@Inject(REDIS) redis: Redis) {
    this.subscriber = redis.duplicate();
    this.subscriber.on('message', (channel: string, message: string) => {
      this.listeners.get(channel)?.(JSON.parse(message) as ExecutionEvent);
    });
  }

  /** Subscribes before the job is queued, so no event can be missed; ends after `done`. */
  async subscribe(executionId: string): Promise<EventSubscription> {
    const channel = redisKeys.executionChannel(executionId);
    const queue: ExecutionEvent[] = [];
    let wake: (() => void) | null = null;
    let closed = false;
    this.listeners.set(channel, (event) => {
      queue.push(event);
      wake?.();
    });
    await this.subscriber.subscribe(channel);
    const close = async () => {
      if (closed) return;
      closed = true;
      this.listeners.delete(channel);
      wake?.();
      await this.subscriber.unsubscribe(channel).catch(() => undefined);
    };
    return {
      close,
      async *[Symbol.asyncIterator]() {
        try {
          for (;;) {
            while (queue.length > 0) {
              const event = queue.shift()!;
              yield event;
              if (event.type === 'done') return;
            }
            if (closed) return;
            await new Promise<void>((resolve) => (wake = resolve));
            wake = null;
          }
        } finally {
          await close();
        }
      },
    };
  }

  async onModuleDestroy(): Promise<void> {
    await this.subscriber.quit().catch(() => undefined);
  }
}
