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

  /** Appends streamed events, in order. */
  async appendEvents(responseId: string, events: ResponseEvent[]): Promise<void> {
    if (events.length === 0) return;
    const key = stateKeys.responseEvents(responseId);
    await this.redis.multi().rpush(key, ...events.map((e) => JSON.stringify(e))).expire(key, this.ttlS).exec();
  }

  async events(responseId: string): Promise<ResponseEvent[]> {
    const raw = await this.redis.lrange(stateKeys.responseEvents(responseId), 0, -1);
    return raw.map((e) => JSON.parse(e) as ResponseEvent);
  }

  async remove(responseId: string): Promise<void> {
    await this.redis.del(stateKeys.response(responseId), stateKeys.responseEvents(responseId));
  }
}
