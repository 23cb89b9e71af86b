import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { nowSeconds } from '@cibox/contracts';
import { redisKeys } from '@cibox/queue';
import { WORKER_LABEL, type SandboxDriver } from '@cibox/sandbox';
import { ContainerRepository, REDIS, isExpired } from '@cibox/storage';
import { SANDBOX_DRIVER, SandboxPool } from './sandbox-pool.service';

/**
 * Ends sandboxes that nothing needs: those of containers that expired or were deleted, and Docker
 * containers left behind by a crash (this worker's from before a restart, or a dead worker's).
 */
@Injectable()
export class ReaperService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ReaperService.name);
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SANDBOX_DRIVER) private readonly driver: SandboxDriver,
    private readonly pool: SandboxPool,
    private readonly containers: ContainerRepository,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.sweepOrphans().catch((err: Error) => this.logger.warn(`orphan sweep: ${err.message}`));
    this.timer = setInterval(() => void this.tick(), this.config.reaperIntervalMs);
  }

  /** One pass; public so tests and operators can run it on demand. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.sweepContainers();
      await this.sweepOrphans();
    } catch (err) {
      this.logger.warn(`reaper: ${(err as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  private async sweepContainers(): Promise<void> {
    const now = nowSeconds();
    for (const containerId of this.pool.liveContainerIds()) {
      const record = await this.containers.getAny(containerId);
      if (record && !isExpired(record, now)) continue;
      if (record && !record.expired) await this.containers.save({ ...record, expired: true });
      this.logger.log(`reaping sandbox of ${record ? 'expired' : 'deleted'} container ${containerId}`);
      await this.pool.discard(containerId);
      await this.redis.del(redisKeys.containerOwner(containerId));
    }
  }

  private async sweepOrphans(): Promise<void> {
    const known = this.pool.knownSandboxIds();
    for (const sandbox of await this.driver.listManaged()) {
      const worker = sandbox.labels[WORKER_LABEL];
      const mineButUnknown = worker === this.config.workerId && !known.has(sandbox.id);
      const ownerDead = worker !== this.config.workerId && !(worker && (await this.redis.exists(redisKeys.workerHeartbeat(worker))));
      if (mineButUnknown || ownerDead) {
        this.logger.log(`removing orphaned sandbox ${sandbox.id.slice(0, 12)} (worker ${worker ?? '?'})`);
        await this.driver.remove(sandbox.id);
      }
    }
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
