import type { WebhookEventType } from '@cibox/webhooks';

// The event types are a wire contract, defined with the event's shape in libs/webhooks.
export { WEBHOOK_EVENT_TYPES, type WebhookEventType } from '@cibox/webhooks';

/**
 * Where background responses and batches announce that they ended. Implemented by the webhooks
 * module (delivered from a queue, signed, retried); never blocks or fails the caller's work.
 */
export interface WebhookEmitter {
  /** Queues `{"id": "evt_…", "object": "event", "type", "created_at", "data": {"id": objectId}}` for the tenant's endpoints. */
  emit(tenant: string, type: WebhookEventType, objectId: string): Promise<void>;
}

export const WEBHOOK_EMITTER = Symbol('WEBHOOK_EMITTER');
