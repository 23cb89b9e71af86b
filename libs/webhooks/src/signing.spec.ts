import OpenAI from 'openai';
import { isWebhookSecret, newWebhookSecret, signWebhook, webhookSecretHint } from './signing';

const sdk = new OpenAI({ apiKey: 'unused' });
const body = JSON.stringify({ id: 'evt_1', object: 'event', type: 'response.completed', created_at: 1, data: { id: 'resp_1' } });

describe('signWebhook', () => {
  it("makes headers the SDK's unwrap accepts, with the event id as webhook-id", async () => {
    const secret = newWebhookSecret();
    const headers = signWebhook('evt_1', Math.floor(Date.now() / 1000), body, [secret]);
    expect(headers['webhook-id']).toBe('evt_1');
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    await expect(sdk.webhooks.unwrap(body, headers, secret)).resolves.toMatchObject({ id: 'evt_1', data: { id: 'resp_1' } });
  });

  it('signs with every secret given, so either one verifies', async () => {
    const [current, previous] = [newWebhookSecret(), newWebhookSecret()];
    const headers = signWebhook('evt_1', Math.floor(Date.now() / 1000), body, [current, previous]);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    await expect(sdk.webhooks.unwrap(body, headers, current)).resolves.toBeTruthy();
    await expect(sdk.webhooks.unwrap(body, headers, previous)).resolves.toBeTruthy();
  });

  it('is refused under another secret, or for a changed body', async () => {
    const secret = newWebhookSecret();
    const headers = signWebhook('evt_1', Math.floor(Date.now() / 1000), body, [secret]);
    await expect(sdk.webhooks.unwrap(body, headers, newWebhookSecret())).rejects.toThrow(/does not match/);
    await expect(sdk.webhooks.unwrap(body.replace('resp_1', 'resp_2'), headers, secret)).rejects.toThrow(/does not match/);
  });

  it('matches a Standard Webhooks signature computed by hand', () => {
    // Key: base64 after whsec_; signed content: "id.timestamp.body".
    const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
    const { createHmac } = jest.requireActual<typeof import('node:crypto')>('node:crypto');
    const expected = createHmac('sha256', '0123456789abcdef0123456789abcdef').update(`evt_1.1700000000.${body}`).digest('base64');
    expect(signWebhook('evt_1', 1_700_000_000, body, [secret])['webhook-signature']).toBe(`v1,${expected}`);
  });
});

describe('webhook secrets', () => {
  it('are whsec_ and 32 random bytes, each new one different', () => {
    const secret = newWebhookSecret();
    expect(isWebhookSecret(secret)).toBe(true);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(secret);
  });

  it.each([['no prefix', 'abcdefghijklmnopqrstuvwxyz012345'], ['too short', `whsec_${Buffer.alloc(8).toString('base64')}`], ['not base64', 'whsec_not base64 at all!!!!!!!!!']])(
    'refuses a secret with %s',
    (_name, secret) => expect(isWebhookSecret(secret)).toBe(false),
  );

  it('are hinted by their last four characters only', () => {
    const secret = newWebhookSecret();
    expect(webhookSecretHint(secret)).toBe(`whsec_…${secret.slice(-4)}`);
  });
});
