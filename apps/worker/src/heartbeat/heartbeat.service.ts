import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { WORKER_HEARTBEAT_INTERVAL_MS, WorkerRegistry } from '@cibox/storage';

/** Announces this worker as alive; the api routes jobs and reports health from it. */
@Injectable()
export class HeartbeatService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(HeartbeatService.name);
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: WorkerRegistry,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.registry.beat(this.config.workerId);
    this.timer = setInterval(() => {
      this.registry.beat(this.config.workerId).catch((err: unknown) => this.logger.warn(`heartbeat failed: ${String(err)}`));
    }, WORKER_HEARTBEAT_INTERVAL_MS);
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.registry.leave(this.config.workerId).catch(() => undefined);
  }
}
