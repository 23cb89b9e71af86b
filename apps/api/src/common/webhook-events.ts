/** The events a tenant's webhook endpoints (and the operator's) can receive. */
export const WEBHOOK_EVENT_TYPES = [
  'response.completed',
  'response.failed',
  'response.cancelled',
  'response.incomplete',
  'batch.completed',
  'batch.failed',
  'batch.cancelled',
  'batch.expired',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * Where background responses and batches announce that they ended. Implemented by the webhooks
 * module (delivered from a queue, signed, retried); never blocks or fails the caller's work.
 */
export interface WebhookEmitter {
  /** Queues `{"id": "evt_…", "object": "event", "type", "created_at", "data": {"id": objectId}}` for the tenant's endpoints. */
  emit(tenant: string, type: WebhookEventType, objectId: string): Promise<void>;
}

export const WEBHOOK_EMITTER = Symbol('WEBHOOK_EMITTER');
