import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { ExecutionEvent } from '@cibox/contracts';
import { apiReplyChannel, type ExecutionEventEnvelope } from '@cibox/queue';
import { REDIS } from '@cibox/storage';

export interface EventSubscription extends AsyncIterable<ExecutionEvent> {
  close(): void;
}

/**
 * Execution events for this api instance. Workers publish each event on the reply channel named in
 * the job, which this instance subscribed to once at start: no subscribe round trip per request.
 */
@Injectable()
export class ExecutionEvents implements OnModuleInit, OnModuleDestroy {
  readonly replyChannel = apiReplyChannel(`${process.pid}-${randomBytes(6).toString('hex')}`);
  private readonly subscriber: Redis;
  private readonly listeners = new Map<string, (event: ExecutionEvent) => void>();

  constructor(@Inject(REDIS) redis: Redis) {
    this.subscriber = redis.duplicate();
    this.subscriber.on('message', (_channel: string, message: string) => {
      try {
        const { executionId, event } = JSON.parse(message) as ExecutionEventEnvelope;
        this.listeners.get(executionId)?.(event);
      } catch {
        // Only workers publish here; a message we cannot read is dropped, and its waiter ends at its deadline.
      }
    });
  }

  async onModuleInit(): Promise<void> {
    await this.subscriber.subscribe(this.replyChannel);
  }

  /** Starts collecting an execution's events; call before queueing it, so none is missed. Ends after `done`. */
  subscribe(executionId: string): EventSubscription {
    const queue: ExecutionEvent[] = [];
    let wake: (() => void) | null = null;
    let closed = false;
    this.listeners.set(executionId, (event) => {
      queue.push(event);
      wake?.();
    });
    const close = () => {
      if (closed) return;
      closed = true;
      this.listeners.delete(executionId);
      wake?.();
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
          close();
        }
      },
    };
  }

  async onModuleDestroy(): Promise<void> {
    await this.subscriber.quit().catch(() => undefined);
  }
}
