import { createHmac, randomBytes } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';

/** A new signing secret: `whsec_` and 32 random bytes in base64, as Standard Webhooks secrets are. */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/** Whether `secret` is a `whsec_…` secret holding a usable key (at least 16 bytes). */
export function isWebhookSecret(secret: string): boolean {
  const body = secret.slice(SECRET_PREFIX.length);
  return secret.startsWith(SECRET_PREFIX) && /^[A-Za-z0-9+/]+={0,2}$/.test(body) && Buffer.from(body, 'base64').length >= 16;
}

/** What lists and retrievals show of a secret: enough to tell two apart, too little to sign with. */
export function webhookSecretHint(secret: string): string {
  return `${SECRET_PREFIX}…${secret.slice(-4)}`;
}

/** The HMAC key of a secret: the base64 after `whsec_` (a secret without the prefix is its own UTF-8 bytes, as the SDKs read it). */
function signingKey(secret: string): Buffer {
  return secret.startsWith(SECRET_PREFIX) ? Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64') : Buffer.from(secret, 'utf8');
}

// A type, not an interface, so that it passes where any string record of headers is taken.
export type WebhookSignatureHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/**
 * The Standard Webhooks headers OpenAI sends: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one
 * per secret (two while a rotated-out secret stays valid), space-separated; a receiver accepts any match.
 */
export function signWebhook(eventId: string, timestampS: number, body: string, secrets: readonly string[]): WebhookSignatureHeaders {
  const signed = `${eventId}.${timestampS}.${body}`;
  const signatures = secrets.map((secret) => `v1,${createHmac('sha256', signingKey(secret)).update(signed, 'utf8').digest('base64')}`);
  return { 'webhook-id': eventId, 'webhook-timestamp': String(timestampS), 'webhook-signature': signatures.join(' ') };
}
