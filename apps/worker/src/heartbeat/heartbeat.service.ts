import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { REDIS } from '@cibox/storage';
import { WORKERS_ZSET, WORKER_HEARTBEAT_INTERVAL_MS, WORKER_HEARTBEAT_TTL_MS, redisKeys } from '@cibox/queue';

/** Announces this worker as alive; the api routes jobs and reports health from it. */
@Injectable()
export class HeartbeatService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(HeartbeatService.name);
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      this.beat().catch((err: unknown) => this.logger.warn(`heartbeat failed: ${String(err)}`));
    }, WORKER_HEARTBEAT_INTERVAL_MS);
  }

  private async beat(): Promise<void> {
    const id = this.config.workerId;
    await this.redis
      .multi()
      .set(redisKeys.workerHeartbeat(id), String(Date.now()), 'PX', WORKER_HEARTBEAT_TTL_MS)
      .zadd(WORKERS_ZSET, Date.now(), id)
      .exec();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.redis
      .multi()
      .del(redisKeys.workerHeartbeat(this.config.workerId))
      .zrem(WORKERS_ZSET, this.config.workerId)
      .exec()
      .catch(() => undefined);
  }
}
