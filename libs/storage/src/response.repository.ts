import type { Redis } from 'ioredis';
import type { ChatMessage, InputItem, ResponseEvent, ResponseObject } from '@cibox/responses';
import { stateKeys } from './state-keys';

/** What Redis holds for a stored response (`store` not false). */
export interface StoredResponse {
  tenant: string;
  /** The response, outputs of code_interpreter_call items included (removed on read unless asked for). */
  response: ResponseObject;
  input_items: InputItem[];
  /** The conversation as the model saw it, without instructions: what `previous_response_id` continues. */
  transcript: ChatMessage[];
  /** The container its code ran in, reused by a follow-up whose tool asks for `auto`. */
  container_id: string | null;
  /** A background response: the request as sent, and the origin its links are built on, for the run. */
  background?: { body: unknown; origin: string; attempts: number };
}

/** Stored responses and the events they streamed; both expire after `ttlS`. */
export class ResponseRepository {
  constructor(
    private readonly redis: Redis,
    private readonly ttlS: number,
  ) {}

  async get(responseId: string): Promise<StoredResponse | null> {
    const raw = await this.redis.get(stateKeys.response(responseId));
    return raw ? (JSON.parse(raw) as StoredResponse) : null;
  }

  async save(record: StoredResponse): Promise<void> {
    await this.redis.set(stateKeys.response(record.response.id), JSON.stringify(record), 'EX', this.ttlS);
  }

  /**
   * Appends one event to the response's log. Not awaited by the caller for each event: the one
   * connection keeps them in order, and `flush` (any later awaited call) waits for all of them.
   */
  appendEvent(responseId: string, event: ResponseEvent): Promise<unknown> {
    return this.redis.xadd(stateKeys.responseEvents(responseId), '*', 'e', JSON.stringify(event));
  }

  /** Says the response is being run; lapses `ttlS` seconds after the last renewal. */
  async holdLease(responseId: string, ttlS: number): Promise<void> {
    await this.redis.set(stateKeys.responseLease(responseId), '1', 'EX', ttlS);
  }

  async releaseLease(responseId: string): Promise<void> {
    await this.redis.del(stateKeys.responseLease(responseId));
  }

  async leased(responseId: string): Promise<boolean> {
    return (await this.redis.exists(stateKeys.responseLease(responseId))) === 1;
  }

  /** Keeps the log as long as the response; call at its start and its end. */
  async expireEvents(responseId: string): Promise<void> {
    await this.redis.expire(stateKeys.responseEvents(responseId), this.ttlS);
  }

  /** Starts the log over (a background response run again after its api died). */
  async clearEvents(responseId: string): Promise<void> {
    await this.redis.del(stateKeys.responseEvents(responseId));
  }

  /** Events after the log position `after` ('0' for the start), with the position to read on from. */
  async readEvents(responseId: string, after: string): Promise<{ events: ResponseEvent[]; next: string }> {
    const reply = await this.redis.xread('COUNT', 500, 'STREAMS', stateKeys.responseEvents(responseId), after);
    const entries = reply?.[0]?.[1] ?? [];
    const events = entries.map(([, fields]) => JSON.parse(fields[1]!) as ResponseEvent);
    return { events, next: entries.at(-1)?.[0] ?? after };
  }

  /**
   * Asks that a background response stop: marked first, then announced, so the api running it either
   * hears it or finds the mark when it starts it.
   */
  async requestCancel(responseId: string): Promise<void> {
    await this.redis.set(stateKeys.responseCancelled(responseId), '1', 'EX', this.ttlS);
    await this.redis.publish(stateKeys.responseCancels, responseId);
  }

  async cancelRequested(responseId: string): Promise<boolean> {
    return (await this.redis.exists(stateKeys.responseCancelled(responseId))) === 1;
  }

  static readonly cancelChannel = stateKeys.responseCancels;

  async remove(responseId: string): Promise<void> {
    await this.redis.del(stateKeys.response(responseId), stateKeys.responseEvents(responseId));
  }
}
