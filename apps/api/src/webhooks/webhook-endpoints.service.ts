import { Inject, Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { ApiError, InvalidRequestError, NotFoundError, newId, nowSeconds, type ListEnvelope, type ListQuery } from '@cibox/contracts';
import { WebhookDeliveryRepository, WebhookEndpointRepository, toWebhookEndpointObject, type WebhookEndpointRecord } from '@cibox/storage';
import {
  NonPublicAddressError,
  assertPublicUrl,
  newWebhookSecret,
  sampleWebhookEvent,
  type CreateWebhookEndpointRequest,
  type UpdateWebhookEndpointRequest,
  type WebhookDeliveryObject,
  type WebhookEndpointObject,
  type WebhookEndpointTestResult,
  type WebhookEndpointWithSecret,
  type WebhookEventType,
} from '@cibox/webhooks';
import { toListEnvelope } from '../common/list';
import { WebhookDispatcher } from './webhook-dispatcher.service';

/** How long a rotated-out secret still signs deliveries when the caller asks to keep it. */
const OLD_SECRET_GRACE_S = 24 * 3600;
/** What a `test` call allows its event to wait in the queue, on top of the attempt's own timeout. */
const TEST_QUEUE_WAIT_MS = 10_000;

/** Tenants' webhook endpoints: management, secret rotation, test events and the delivery log. */
@Injectable()
export class WebhookEndpointsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly endpoints: WebhookEndpointRepository,
    private readonly deliveries: WebhookDeliveryRepository,
    private readonly dispatcher: WebhookDispatcher,
  ) {}

  async create(tenant: string, req: CreateWebhookEndpointRequest): Promise<WebhookEndpointWithSecret> {
    await this.checkTarget(req.url);
    const now = nowSeconds();
    const record: WebhookEndpointRecord = {
      id: newId('webhookEndpoint'),
      tenant,
      name: req.name,
      url: req.url,
      event_types: req.event_types,
      created_at: now,
      updated_at: now,
      secret: newWebhookSecret(),
      previous_secret: null,
    };
    await this.endpoints.insert(record);
    return { ...toWebhookEndpointObject(record), signing_secret: record.secret };
  }

  async retrieve(tenant: string, id: string): Promise<WebhookEndpointObject> {
    return toWebhookEndpointObject(await this.get(tenant, id));
  }

  async list(tenant: string, query: ListQuery): Promise<ListEnvelope<WebhookEndpointObject>> {
    return toListEnvelope(await this.endpoints.list(tenant, query), toWebhookEndpointObject);
  }

  /** Changes what is given; `updated_at` moves only if something did change. */
  async update(tenant: string, id: string, req: UpdateWebhookEndpointRequest): Promise<WebhookEndpointObject> {
    const record = await this.get(tenant, id);
    if (req.url !== undefined && req.url !== record.url) await this.checkTarget(req.url);
    const next = { ...record, name: req.name ?? record.name, url: req.url ?? record.url, event_types: req.event_types ?? record.event_types };
    const changed = next.name !== record.name || next.url !== record.url || next.event_types.join() !== record.event_types.join();
    if (!changed) return toWebhookEndpointObject(record);
    const saved = { ...next, updated_at: nowSeconds() };
    await this.endpoints.save(saved);
    return toWebhookEndpointObject(saved);
  }

  async remove(tenant: string, id: string): Promise<{ id: string; object: 'webhook_endpoint.deleted'; deleted: true }> {
    const record = await this.get(tenant, id);
    await this.endpoints.remove(record);
    await this.deliveries.remove(record.id);
    return { id: record.id, object: 'webhook_endpoint.deleted', deleted: true };
  }

  /** A new secret; the old one stops signing at once, or after 24 h if `keepOld` (deliveries then carry both signatures). */
  async rotateSecret(tenant: string, id: string, keepOld: boolean): Promise<WebhookEndpointWithSecret> {
    const record = await this.get(tenant, id);
    const now = nowSeconds();
    const next: WebhookEndpointRecord = {
      ...record,
      secret: newWebhookSecret(),
      previous_secret: keepOld ? { secret: record.secret, expires_at: now + OLD_SECRET_GRACE_S } : null,
      updated_at: now,
    };
    await this.endpoints.save(next);
    return { ...toWebhookEndpointObject(next), signing_secret: next.secret };
  }

  /**
   * Sends a sample event of `type` through the delivery queue (signed, and retried on failure like
   * any event) and answers with the first attempt's status once it is made.
   */
  async test(tenant: string, id: string, type: WebhookEventType): Promise<WebhookEndpointTestResult> {
    const record = await this.get(tenant, id);
    const event = sampleWebhookEvent(type);
    await this.dispatcher.dispatch(tenant, event, [record.id]);
    const deadline = Date.now() + this.config.webhooks.timeoutMs + TEST_QUEUE_WAIT_MS;
    while (Date.now() < deadline) {
      const first = (await this.deliveries.list(record.id)).find((d) => d.event_id === event.id && d.attempt === 1);
      if (first?.status_code != null) {
        return { object: 'webhook_endpoint.test', webhook_endpoint_id: record.id, event_type: type, status_code: first.status_code, success: true };
      }
      if (first) throw new InvalidRequestError(`The test event could not be delivered to the endpoint: ${first.error ?? 'no response'}.`, null, 'webhook_test_failed');
      await sleep(100);
    }
    throw new ApiError(504, `The test event ${event.id} was not attempted in time; it stays queued.`, 'server_error', null, 'timeout');
  }

  /** Our extension: the endpoint's last delivery attempts, newest first. */
  async deliveryLog(tenant: string, id: string): Promise<ListEnvelope<WebhookDeliveryObject>> {
    const record = await this.get(tenant, id);
    return toListEnvelope({ data: await this.deliveries.list(record.id), hasMore: false }, (d) => d);
  }

  private async get(tenant: string, id: string): Promise<WebhookEndpointRecord> {
    const record = await this.endpoints.get(tenant, id);
    if (!record) throw new NotFoundError('Webhook endpoint', id);
    return record;
  }

  /** A tenant's URL must not lead to a private address, unless the operator allows it (checked again at each delivery). */
  private async checkTarget(url: string): Promise<void> {
    if (this.config.webhooks.allowPrivateTargets) return;
    try {
      await assertPublicUrl(new URL(url));
    } catch (err) {
      const reason =
        err instanceof NonPublicAddressError
          ? `${err.message}, and webhooks are only delivered to public addresses`
          : `its host could not be resolved (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
      throw new InvalidRequestError(`Invalid 'url': ${reason}.`, 'url', 'invalid_url');
    }
  }
}
