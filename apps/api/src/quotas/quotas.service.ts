import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, limitsOf, type AppConfig } from '@cibox/config';
import { RateLimitError, nowSeconds } from '@cibox/contracts';
import { ContainerRepository, QuotaRepository, type ContainerRecord } from '@cibox/storage';

const MINUTE_MS = 60_000;

const tooManyContainers = (limit: number, firstExpiryS: number) =>
  new RateLimitError(`Too many live containers: the limit is ${limit}. Delete one or wait for one to expire.`, 'containers', limit, firstExpiryS * 1000);

/** The tenants' limits of the keys file (API_KEYS_FILE), enforced with counters shared in Redis. */
@Injectable()
export class QuotasService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly quotas: QuotaRepository,
    private readonly containers: ContainerRepository,
  ) {}

  /**
   * Throws RateLimitError when the tenant already has `live_containers` containers that have not
   * expired (those that responses and chat completions create included): a refusal before any work.
   * `insertContainer` decides for good.
   */
  async checkLiveContainers(tenant: string): Promise<void> {
    const limit = limitsOf(this.config, tenant).live_containers;
    if (limit === undefined) return;
    const { live, firstExpiryS } = await this.containers.countLive(tenant, nowSeconds());
    if (live >= limit) throw tooManyContainers(limit, firstExpiryS);
  }

  /**
   * Stores a new container within its tenant's `live_containers`. The count and the insert are one
   * step in Redis, so of creations racing at the limit, on any api instance, only as many get in as
   * it allows; the others get RateLimitError and the container is not stored.
   */
  async insertContainer(record: ContainerRecord): Promise<void> {
    const limit = limitsOf(this.config, record.tenant).live_containers;
    if (limit === undefined) return this.containers.insert(record);
    const { inserted, firstExpiryS } = await this.containers.insertWithin(record, limit, nowSeconds());
    if (!inserted) throw tooManyContainers(limit, firstExpiryS);
  }

  /**
   * Counts one request in the tenant's sliding minute; throws RateLimitError past
   * `requests_per_minute`. Returns OpenAI's `x-ratelimit-*-requests` headers (none when unlimited).
   */
  async countRequest(tenant: string): Promise<Record<string, string>> {
    const limit = limitsOf(this.config, tenant).requests_per_minute;
    if (limit === undefined) return {};
    const slot = await this.quotas.take(tenant, 'requests_per_minute', limit, MINUTE_MS);
    if (!slot.taken) throw new RateLimitError(`Rate limit reached: ${limit} requests per minute. Please try again later.`, 'requests', limit, slot.resetMs);
    return {
      'x-ratelimit-limit-requests': String(limit),
      'x-ratelimit-remaining-requests': String(slot.remaining),
      'x-ratelimit-reset-requests': `${Math.ceil(slot.resetMs / 1000)}s`,
    };
  }

  /**
   * Holds one of the tenant's `concurrent_executions` slots for the execution until `release` or,
   * should the api die first, until `lifetimeMs` (the longest the api would wait for it) has passed.
   * Returns the release, a no-op when the tenant has no such limit; throws RateLimitError when full.
   */
  async holdExecution(tenant: string, executionId: string, lifetimeMs: number): Promise<() => Promise<void>> {
    const limit = limitsOf(this.config, tenant).concurrent_executions;
    if (limit === undefined) return () => Promise.resolve();
    const slot = await this.quotas.take(tenant, 'concurrent_executions', limit, lifetimeMs, executionId);
    if (!slot.taken) {
      throw new RateLimitError(`Too many executions in flight: the limit is ${limit} at once. Try again when one has finished.`, 'executions', limit, slot.resetMs);
    }
    return () => this.quotas.release(tenant, 'concurrent_executions', executionId);
  }
}
