import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { WORKER_HEARTBEAT_INTERVAL_MS, WorkerRegistry } from '@cibox/storage';

/**
 * Announces this worker as alive, with its caps and whether it is draining: the api places
 * containers and reports health from it.
 */
@Injectable()
export class HeartbeatService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(HeartbeatService.name);
  private timer: NodeJS.Timeout | null = null;
  private drainStarted = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: WorkerRegistry,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      this.beat().catch((err: unknown) => this.logger.warn(`heartbeat failed: ${String(err)}`));
    }, WORKER_HEARTBEAT_INTERVAL_MS);
  }

  get draining(): boolean {
    return this.drainStarted;
  }

  /** From now on no container is placed on this worker. */
  async startDraining(): Promise<void> {
    this.drainStarted = true;
    await this.beat();
  }

  private async beat(): Promise<void> {
    const { forgotten } = await this.registry.beat(this.config.workerId, { ...this.config.capacity, draining: this.drainStarted });
    // Its running executions were failed and its containers placed again; the reaper drops their sandboxes.
    if (forgotten) this.logger.warn('this worker was taken for dead (no heartbeat for 5 s) and forgotten; its containers moved to other workers');
  }

  /**
   * Stops beating, and stays listed: once the last heartbeat lapses, another worker's reaper finds
   * this worker dead and moves whatever was queued for it after it stopped taking jobs.
   */
  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
