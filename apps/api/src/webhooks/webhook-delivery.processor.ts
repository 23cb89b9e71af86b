import { Inject, Injectable, type Type } from '@nestjs/common';
import { Processor } from '@nestjs/bullmq';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { newId, nowSeconds } from '@cibox/contracts';
import { QueueProcessor, WEBHOOK_QUEUE, type WebhookDeliveryJob } from '@cibox/queue';
import { WebhookDeliveryRepository, WebhookEndpointRepository, activeSecrets } from '@cibox/storage';
import { ApiMetrics } from '../metrics/api-metrics.service';
import { delivered, sendWebhook, signWebhook, type SendOutcome } from '@cibox/webhooks';

/**
 * Attempts one endpoint may have in flight on one api instance: a slow or dead receiver holds at
 * most this many of the instance's delivery slots, whatever its backlog, so other endpoints' events
 * keep moving. Past it, a job waits ENDPOINT_BUSY_DELAY_MS without spending an attempt.
 */
const ENDPOINT_IN_FLIGHT = 4;
const ENDPOINT_BUSY_DELAY_MS = 1000;

/** Where one job's attempt goes, and how it is signed. */
interface Target {
  url: string;
  secrets: string[];
  /** Tenants' endpoints must resolve to public addresses (unless the operator allows private ones). */
  publicOnly: boolean;
  headers: Record<string, string>;
}

/**
 * Delivers webhook events, one job per (event, endpoint), on every api instance. Each attempt is
 * signed afresh (timestamp and signatures; the `webhook-id` is the event's, always), recorded, and
 * a failed one (non-2xx, timeout, connection error) is retried by BullMQ with exponential back-off
 * up to WEBHOOK_MAX_ATTEMPTS. A target refused for its address is not retried.
 */
@Injectable()
export abstract class WebhookDeliveryProcessor extends QueueProcessor {
  private readonly inFlight = new Map<string, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly endpoints: WebhookEndpointRepository,
    private readonly deliveries: WebhookDeliveryRepository,
    private readonly metrics: ApiMetrics,
  ) {
    super();
  }

  override async process(job: Job<WebhookDeliveryJob>, token?: string): Promise<void> {
    const { data } = job;
    const target = await this.target(data);
    // The endpoint was deleted since the event was queued: there is no one left to tell.
    if (!target) return;
    const key = data.endpointId ?? 'operator';
    const busy = this.inFlight.get(key) ?? 0;
    if (busy >= ENDPOINT_IN_FLIGHT) {
      await job.moveToDelayed(Date.now() + ENDPOINT_BUSY_DELAY_MS, token);
      throw new DelayedError();
    }
    this.inFlight.set(key, busy + 1);
    let outcome: SendOutcome;
    try {
      const headers = { ...target.headers, ...signWebhook(data.eventId, nowSeconds(), data.body, target.secrets) };
      outcome = await sendWebhook(target.url, data.body, headers, { timeoutMs: this.config.webhooks.timeoutMs, publicOnly: target.publicOnly });
    } finally {
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left > 0) this.inFlight.set(key, left);
      else this.inFlight.delete(key);
    }
    const attempt = job.attemptsMade + 1;
    await this.deliveries.record(key, {
      id: newId('webhookDelivery'),
      object: 'webhook_endpoint.delivery',
      event_id: data.eventId,
      event_type: data.eventType,
      attempt,
      created_at: nowSeconds(),
      status_code: outcome.statusCode,
      success: delivered(outcome),
      error: outcome.error,
      duration_ms: outcome.durationMs,
    });
    this.metrics.webhookAttempts.inc({ result: delivered(outcome) ? 'delivered' : 'failed' });
    if (delivered(outcome)) return;
    const why = outcome.statusCode === null ? outcome.error : `HTTP ${outcome.statusCode}`;
    this.logger.warn(`webhook ${data.eventId} to ${key}: attempt ${attempt} of ${this.config.webhooks.maxAttempts} failed: ${why}`);
    if (outcome.refused) throw new UnrecoverableError(`refused: ${why}`);
    throw new Error(`attempt ${attempt} failed: ${why}`);
  }

  private async target(data: WebhookDeliveryJob): Promise<Target | null> {
    if (data.endpointId === null) {
      const operator = this.config.webhooks.operator;
      // Each instance has its own configuration; one without WEBHOOK_URL has nowhere to send it.
      if (!operator) return null;
      return { url: operator.url, secrets: [operator.secret], publicOnly: false, headers: { 'cibox-tenant': data.tenant } };
    }
    const endpoint = await this.endpoints.get(data.tenant, data.endpointId);
    if (!endpoint) return null;
    return { url: endpoint.url, secrets: activeSecrets(endpoint, nowSeconds()), publicOnly: !this.config.webhooks.allowPrivateTargets, headers: {} };
  }
}

/** The processor class, with the config's concurrency (known once the config is read). */
export function webhookDeliveryProcessor(config: AppConfig): Type<WebhookDeliveryProcessor> {
  @Processor(WEBHOOK_QUEUE, { concurrency: config.webhooks.concurrency, lockDuration: config.queueLockMs, stalledInterval: config.queueLockMs, autorun: false })
  class WebhookQueueProcessor extends WebhookDeliveryProcessor {}
  return WebhookQueueProcessor;
}
