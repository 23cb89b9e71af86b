import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { WEBHOOK_QUEUE, type WebhookDeliveryJob } from '@cibox/queue';
import { WebhookEndpointRepository } from '@cibox/storage';
import { webhookEvent, type WebhookEvent, type WebhookEventType } from '@cibox/webhooks';
import type { WebhookEmitter } from '../common/webhook-events';

/** The longest `emit` holds its caller (Redis away): an event not queued by then is logged and dropped. */
const EMIT_BOUND_MS = 5000;

/** The queue as the dispatcher uses it (a fake in unit tests). */
export type WebhookQueue = Pick<Queue<WebhookDeliveryJob>, 'addBulk'>;

/**
 * Turns an event into delivery jobs, one per endpoint that takes it (the operator's included), on
 * the `webhooks` queue. Provided as WEBHOOK_EMITTER to whatever announces the end of background work.
 */
@Injectable()
export class WebhookDispatcher implements WebhookEmitter {
  private readonly logger = new Logger(WebhookDispatcher.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectQueue(WEBHOOK_QUEUE) private readonly queue: WebhookQueue,
    @Inject(WebhookEndpointRepository) private readonly endpoints: Pick<WebhookEndpointRepository, 'subscribed'>,
  ) {}

  /** Queues the event for the tenant's endpoints subscribed to `type` and the operator's; never throws. */
  async emit(tenant: string, type: WebhookEventType, objectId: string): Promise<void> {
    const event = webhookEvent(type, objectId);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not queued within ${EMIT_BOUND_MS} ms`)), EMIT_BOUND_MS);
    });
    try {
      const queued = this.endpoints.subscribed(tenant, type).then((endpoints) => {
        const targets: (string | null)[] = endpoints.map((e) => e.id);
        if (this.config.webhooks.operator) targets.push(null);
        return this.dispatch(tenant, event, targets);
      });
      await Promise.race([queued, bound]);
    } catch (err) {
      this.logger.error(`webhook event ${event.id} (${type} ${objectId}) of ${tenant} was not queued: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Queues one delivery job per target (an endpoint id, or null for the operator's endpoint). */
  async dispatch(tenant: string, event: WebhookEvent, targets: (string | null)[]): Promise<void> {
    if (targets.length === 0) return;
    const body = JSON.stringify(event);
    const { maxAttempts, retryBaseMs } = this.config.webhooks;
    await this.queue.addBulk(
      targets.map((endpointId) => ({
        name: 'deliver',
        data: { tenant, endpointId, eventId: event.id, eventType: event.type, body },
        opts: {
          // Named after what it delivers, to be found in the queue.
          jobId: `${event.id}-${endpointId ?? 'operator'}`,
          attempts: maxAttempts,
          backoff: { type: 'exponential', delay: retryBaseMs, jitter: 0.2 },
          removeOnComplete: true,
          removeOnFail: 1000,
        },
      })),
    );
  }
}
