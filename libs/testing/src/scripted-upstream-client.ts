import { randomUUID } from 'node:crypto';
import type { ChatRequest } from '@cibox/model';
import type { ScriptedTurn } from './scripted-turns';

/** Programs the scripted upstream (scripted-upstream.ts) from tests, and reads back what it was asked. */
export class ScriptedUpstreamClient {
  /** `url` is the upstream's origin; the e2e suite exports it as CIBOX_UPSTREAM_URL. */
  constructor(readonly url: string = requiredEnv('CIBOX_UPSTREAM_URL')) {}

  /** Queues `turns` for `model`: its next requests get them, one each, in order. */
  async script(model: string, turns: ScriptedTurn[]): Promise<void> {
    const res = await fetch(`${this.url}/__scripts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, turns }) });
    if (res.status !== 200) throw new Error(`scripting ${model} failed: HTTP ${res.status} ${await res.text()}`);
  }

  /** Every request body the upstream received for `model`, oldest first. */
  async requests(model: string): Promise<ChatRequest[]> {
    const res = await fetch(`${this.url}/__scripts/${encodeURIComponent(model)}/requests`);
    if (res.status !== 200) throw new Error(`reading the requests of ${model} failed: HTTP ${res.status} ${await res.text()}`);
    return ((await res.json()) as { requests: ChatRequest[] }).requests;
  }

  /** A model name of its own (`t-<uuid>`), so concurrent tests never share turns. */
  static newModel(): string {
    return `t-${randomUUID()}`;
  }
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the e2e global setup starts the scripted upstream and sets it`);
  return value;
}
