import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { nowSeconds } from '@cibox/contracts';
import { QueueProducers, SHARED_SANDBOX_QUEUE, workerSandboxQueue, type ExecuteJobData } from '@cibox/queue';
import { WORKER_LABEL, type SandboxDriver } from '@cibox/sandbox';
import { ContainerRepository, WorkerRegistry, isExpired } from '@cibox/storage';
import { ExecutionService } from './execution.service';
import { SANDBOX_DRIVER, SandboxPool } from './sandbox-pool.service';

/** Starting a sandbox takes seconds; anything younger than this may be one being started. */
const ORPHAN_MIN_AGE_S = 60;

/**
 * Ends sandboxes that nothing needs: those of containers that expired or were deleted, and Docker
 * containers left behind by a crash (this worker's from before a restart, or a dead worker's).
 * Also rescues a dead worker's queue, so that no accepted job waits forever.
 *
 * A worker sees only the Docker engine it drives (DOCKER_HOST), and there removes only sandboxes
 * of its own or of workers whose heartbeat has lapsed: never those of a live worker sharing the
 * engine. A dead worker's sandboxes go when a worker driving its engine (one already there, or the
 * next to start there) sweeps; on an engine no worker drives any more they stay until then, holding
 * only memory, since their containers have moved to other workers with their files.
 */
@Injectable()
export class ReaperService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ReaperService.name);
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(SANDBOX_DRIVER) private readonly driver: SandboxDriver,
    private readonly pool: SandboxPool,
    private readonly containers: ContainerRepository,
    private readonly executions: ExecutionService,
    private readonly registry: WorkerRegistry,
    private readonly queues: QueueProducers,
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
      await this.rescueDeadWorkers();
      await this.sweepOrphans();
    } catch (err) {
      this.logger.warn(`reaper: ${(err as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  /**
   * The containers of this worker that expired or were deleted: their sandboxes and their places;
   * and the sandboxes of containers it no longer owns.
   * A container placed here whose record is missing may be one being created (placed before it is
   * stored, which may take minutes of file copies); it is released only once its placing mark is gone.
   */
  private async sweepContainers(): Promise<void> {
    const now = nowSeconds();
    const live = new Set(this.pool.liveContainerIds());
    const placed = await this.registry.containersOf(this.config.workerId);
    for (const containerId of new Set([...live, ...placed])) {
      let record = await this.containers.getAny(containerId);
      if (!record && !live.has(containerId)) {
        if (await this.registry.placing(containerId)) continue;
        // Its creation may have stored the record and cleared the mark between the two reads.
        record = await this.containers.getAny(containerId);
      }
      if (record && !isExpired(record, now)) {
        // Taken for dead while it stalled, this worker was forgotten: its containers went elsewhere.
        if (live.has(containerId) && (await this.registry.owner(containerId)) !== this.config.workerId) {
          this.logger.log(`discarding sandbox of container ${containerId}: this worker no longer owns it`);
          await this.pool.discard(containerId);
        }
        continue;
      }
      if (record && !record.expired) await this.containers.save({ ...record, expired: true });
      if (live.has(containerId)) this.logger.log(`reaping sandbox of ${record ? 'expired' : 'deleted'} container ${containerId}`);
      await this.pool.discard(containerId);
      await this.registry.release(containerId, this.config.workerId);
    }
  }

  private async sweepOrphans(): Promise<void> {
    const known = this.pool.knownSandboxIds();
    for (const sandbox of await this.driver.listManaged()) {
      const worker = sandbox.labels[WORKER_LABEL];
      // A sandbox still starting is not in the pool yet; only an old unknown one is a leftover.
      const old = nowSeconds() - sandbox.createdAt > ORPHAN_MIN_AGE_S;
      const mineButUnknown = worker === this.config.workerId && !known.has(sandbox.id) && old;
      const ownerDead = worker !== this.config.workerId && !(worker && (await this.registry.isAlive(worker)));
      if (mineButUnknown || ownerDead) {
        this.logger.log(`removing orphaned sandbox ${sandbox.id.slice(0, 12)} (worker ${worker ?? '?'})`);
        await this.driver.remove(sandbox.id);
      }
    }
  }

  /**
   * Jobs queued for a worker that died (or drained and stopped) move to the shared queue, where the
   * worker that takes each places its container again. An execution that was running when its
   * worker died is failed, not re-run: its code may already have had effects, and its kernel is gone.
   *
   * The worker is forgotten first, in one step with checking that it is still dead, so a worker that
   * was only stalled and beats again keeps its containers and its running executions; it is checked
   * again before each execution is failed. Its queue is never destroyed: only jobs that were moved
   * leave it, and it stays listed (dead), rescued again once the lock lapses, until a rescue finds
   * the queue empty; a job queued to it late is moved then.
   */
  private async rescueDeadWorkers(): Promise<void> {
    for (const worker of await this.registry.dead()) {
      if (worker === this.config.workerId || !(await this.registry.lockRescue(worker, this.config.workerId))) continue;
      if (await this.registry.forget(worker)) await this.rescue(worker);
    }
  }

  private async rescue(worker: string): Promise<void> {
    const queue = this.queues.get(workerSandboxQueue(worker));
    for (const job of await queue.getJobs(['active'])) {
      if (await this.registry.isAlive(worker)) return;
      if (job.name === 'execute') await this.executions.failLost(job.data as ExecuteJobData);
      // Refused while the dead worker's lock on it lasts; a later rescue removes it then.
      await job.remove().catch(() => undefined);
    }
    const moved = await this.queues.moveWaiting(queue.name, SHARED_SANDBOX_QUEUE);
    if (moved > 0) this.logger.log(`moved ${moved} jobs of dead worker ${worker} to the shared queue`);
    const counts = await queue.getJobCounts('waiting', 'delayed', 'prioritized', 'paused', 'active');
    if (Object.values(counts).every((n) => n === 0)) await this.registry.drop(worker);
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
