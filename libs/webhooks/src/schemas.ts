import { z } from 'zod';
import { WEBHOOK_EVENT_TYPES } from './events';

const eventType = z.enum(WEBHOOK_EVENT_TYPES, {
  errorMap: (_issue, ctx) => ({ message: ctx.data === undefined ? 'is required' : `must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` }),
});

/** Where deliveries go: an absolute http(s) URL without credentials (whose address is checked elsewhere). */
export const webhookUrlSchema = z
  .string({ required_error: 'is required', invalid_type_error: 'must be a string' })
  .max(2048, 'must be at most 2048 characters')
  .superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be an absolute http or https URL' });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be an http or https URL' });
    else if (url.username || url.password) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must not contain credentials' });
  });

const name = z
  .string({ required_error: 'is required', invalid_type_error: 'must be a string' })
  .trim()
  .min(1, 'must not be empty')
  .max(256, 'must be at most 256 characters');

/** Each type once, in the order given. */
const eventTypes = z
  .array(eventType, { required_error: 'is required', invalid_type_error: 'must be an array of event types' })
  .min(1, 'must name at least one event type')
  .transform((types) => [...new Set(types)]);

export const createWebhookEndpointSchema = z.object({ name, url: webhookUrlSchema, event_types: eventTypes }).strict();
export type CreateWebhookEndpointRequest = z.infer<typeof createWebhookEndpointSchema>;

export const updateWebhookEndpointSchema = z.object({ name: name.optional(), url: webhookUrlSchema.optional(), event_types: eventTypes.optional() }).strict();
export type UpdateWebhookEndpointRequest = z.infer<typeof updateWebhookEndpointSchema>;

export const rotateWebhookSecretSchema = z.object({ keep_old_secret_active_for_24_hours: z.boolean().optional() }).strict();

export const testWebhookEndpointSchema = z.object({ event_type: eventType }).strict();
