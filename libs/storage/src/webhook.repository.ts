import type { Redis } from 'ioredis';
import { webhookSecretHint, type WebhookDeliveryObject, type WebhookEndpointObject, type WebhookEventType } from '@cibox/webhooks';
import { RedisRecords, type Page, type PageRequest } from './redis-records';
import { stateKeys } from './state-keys';

export interface WebhookEndpointRecord {
  id: string;
  tenant: string;
  name: string;
  url: string;
  event_types: WebhookEventType[];
  created_at: number;
  updated_at: number;
  /** The `whsec_…` secret deliveries are signed with. */
  secret: string;
  /** The secret a rotation replaced, still signed with until `expires_at` (unix s). */
  previous_secret: { secret: string; expires_at: number } | null;
}

export function toWebhookEndpointObject(r: WebhookEndpointRecord): WebhookEndpointObject {
  return {
    id: r.id,
    object: 'webhook_endpoint',
    name: r.name,
    url: r.url,
    event_types: r.event_types,
    created_at: r.created_at,
    updated_at: r.updated_at,
    signing_secret_hint: webhookSecretHint(r.secret),
  };
}

/** The secrets a delivery made at `nowS` is signed with: the current one, and a rotated-out one still in its grace period. */
export function activeSecrets(r: WebhookEndpointRecord, nowS: number): string[] {
  return r.previous_secret && r.previous_secret.expires_at > nowS ? [r.secret, r.previous_secret.secret] : [r.secret];
}

/** Tenants' webhook endpoints; every tenant-facing read is scoped, so another tenant's id reads as absent. */
export class WebhookEndpointRepository {
  private readonly records: RedisRecords<WebhookEndpointRecord>;
  constructor(redis: Redis) {
    this.records = new RedisRecords(redis, 'webhook-endpoint');
  }

  async insert(r: WebhookEndpointRecord): Promise<void> {
    await this.records.insert(r, [r.tenant], Date.now());
  }

  async get(tenant: string, id: string): Promise<WebhookEndpointRecord | null> {
    const r = await this.records.get(id);
    return r && r.tenant === tenant ? r : null;
  }

  save(r: WebhookEndpointRecord): Promise<void> {
    return this.records.save(r);
  }

  async remove(r: WebhookEndpointRecord): Promise<void> {
    await this.records.remove(r.id, [r.tenant]);
  }

  list(tenant: string, page: PageRequest): Promise<Page<WebhookEndpointRecord>> {
    return this.records.page(tenant, page);
  }

  /** The tenant's endpoints that take events of `type`. */
  async subscribed(tenant: string, type: WebhookEventType): Promise<WebhookEndpointRecord[]> {
    const all = await this.records.getMany(await this.records.allIds(tenant));
    return all.filter((r): r is WebhookEndpointRecord => r !== null && r.event_types.includes(type));
  }
}

/** Attempts kept per endpoint, and for how long: enough to debug a receiver, bounded whatever the traffic. */
const DELIVERIES_KEPT = 100;
const DELIVERIES_TTL_S = 7 * 24 * 3600;

/** The last delivery attempts to each endpoint (the operator's under 'operator'), newest first. */
export class WebhookDeliveryRepository {
  constructor(private readonly redis: Redis) {}

  async record(endpointId: string, delivery: WebhookDeliveryObject): Promise<void> {
    const key = stateKeys.webhookDeliveries(endpointId);
    await this.redis.multi().lpush(key, JSON.stringify(delivery)).ltrim(key, 0, DELIVERIES_KEPT - 1).expire(key, DELIVERIES_TTL_S).exec();
  }

  async list(endpointId: string): Promise<WebhookDeliveryObject[]> {
    const raw = await this.redis.lrange(stateKeys.webhookDeliveries(endpointId), 0, DELIVERIES_KEPT - 1);
    return raw.map((d) => JSON.parse(d) as WebhookDeliveryObject);
  }

  async remove(endpointId: string): Promise<void> {
    await this.redis.del(stateKeys.webhookDeliveries(endpointId));
  }
}
