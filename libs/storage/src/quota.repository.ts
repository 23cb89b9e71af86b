import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { runScript } from './scripts';
import { stateKeys } from './state-keys';

/** The limits counted in Redis; `live_containers` is counted from the container records instead. */
export type CountedLimit = 'requests_per_minute' | 'concurrent_executions';

export interface SlotResult {
  taken: boolean;
  limit: number;
  /** Slots left after this take. */
  remaining: number;
  /** Ms until the oldest held slot frees itself (0 when none is held). */
  resetMs: number;
}

/**
 * A tenant's slots of a limit, shared by every api instance: one sorted set per tenant and limit,
 * each entry living until released or until its own lifetime ends, so a lost release cannot leak.
 */
export class QuotaRepository {
  constructor(private readonly redis: Redis) {}

  /** Takes a slot if fewer than `limit` are held; `member` names it for `release` (random by default). */
  async take(tenant: string, name: CountedLimit, limit: number, lifetimeMs: number, member: string = randomUUID()): Promise<SlotResult> {
    const [taken, held, resetMs] = (await runScript(this.redis, 'ciboxTakeSlot', [stateKeys.quota(tenant, name)], [member, Math.ceil(lifetimeMs), limit])) as number[];
    return { taken: taken === 1, limit, remaining: Math.max(0, limit - (held ?? 0)), resetMs: Math.max(0, resetMs ?? 0) };
  }

  async release(tenant: string, name: CountedLimit, member: string): Promise<void> {
    await this.redis.zrem(stateKeys.quota(tenant, name), member);
  }
}
