import { newId, nowSeconds } from '@cibox/contracts';

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

/** What a receiver gets, as OpenAI sends it (the SDK's `UnwrapWebhookEvent`). */
export interface WebhookEvent {
  id: string;
  object: 'event';
  type: WebhookEventType;
  created_at: number;
  data: { id: string };
}

/** A new event announcing that the object `objectId` reached the state `type` names. */
export function webhookEvent(type: WebhookEventType, objectId: string): WebhookEvent {
  return { id: newId('event'), object: 'event', type, created_at: nowSeconds(), data: { id: objectId } };
}

/** The sample event a `test` call sends: a made-up id of the kind the type is about. */
export function sampleWebhookEvent(type: WebhookEventType): WebhookEvent {
  const sample = newId('response').slice('resp_'.length);
  return webhookEvent(type, type.startsWith('batch.') ? `batch_${sample}` : `resp_${sample}`);
}

/** `webhook_endpoint`, as the SDK 7 types it; the secret only on create and rotate. */
export interface WebhookEndpointObject {
  id: string;
  object: 'webhook_endpoint';
  name: string;
  url: string;
  event_types: WebhookEventType[];
  created_at: number;
  updated_at: number;
  signing_secret_hint: string | null;
}

export type WebhookEndpointWithSecret = WebhookEndpointObject & { signing_secret: string };

export interface WebhookEndpointTestResult {
  object: 'webhook_endpoint.test';
  webhook_endpoint_id: string;
  event_type: WebhookEventType;
  status_code: number;
  success: true;
}

/** One attempt to deliver one event to one endpoint (our extension: `GET …/deliveries`). */
export interface WebhookDeliveryObject {
  id: string;
  object: 'webhook_endpoint.delivery';
  /** The event, which is also the `webhook-id` header: the same on every attempt. */
  event_id: string;
  event_type: WebhookEventType;
  /** 1 for the first attempt. */
  attempt: number;
  created_at: number;
  /** The receiver's HTTP status; null when none came (timeout, refused connection, refused address). */
  status_code: number | null;
  success: boolean;
  error: string | null;
  duration_ms: number;
}
