import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { QueueProducers, SHARED_SANDBOX_QUEUE, workerSandboxQueue } from '@cibox/queue';
import { WorkerRegistry } from '@cibox/storage';
import { HeartbeatService } from '../heartbeat/heartbeat.service';
import { ExecutionService } from '../sandbox/execution.service';
import { SandboxPool } from '../sandbox/sandbox-pool.service';
import { OWN_QUEUE_PROCESSOR, SHARED_QUEUE_PROCESSOR, type SandboxProcessor } from '../sandbox/sandbox.processor';

/**
 * A worker's graceful stop (SIGTERM): it takes no new container, lets the executions that reached
 * its containers finish (each bounded by its own timeout), then hands every container over: released,
 * so its next job places it on another worker, which recreates the sandbox from S3 (and the
 * execution says `state_lost: true`). Jobs still waiting in its queue move to the shared queue.
 *
 * An api that read this worker as a container's owner just before the hand-over may still queue a
 * job here afterwards: until the worker stops, its processor forwards such a job to the container's
 * new owner; after, the worker stays listed in the registry, so once its heartbeat lapses another
 * worker's reaper finds it dead and moves what is queued (see ReaperService).
 */
@Injectable()
export class DrainService {
  private readonly logger = new Logger(DrainService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly heartbeat: HeartbeatService,
    @Inject(SHARED_QUEUE_PROCESSOR) private readonly shared: SandboxProcessor,
    @Inject(OWN_QUEUE_PROCESSOR) private readonly own: SandboxProcessor,
    private readonly executions: ExecutionService,
    private readonly pool: SandboxPool,
    private readonly registry: WorkerRegistry,
    private readonly queues: QueueProducers,
  ) {}

  async drain(): Promise<void> {
    const started = Date.now();
    const me = this.config.workerId;
    // Announced before the containers are listed: none is placed here once this has returned.
    await this.heartbeat.startDraining();
    const sharedClosed = this.shared.close();
    const containers = new Set([...this.pool.liveContainerIds(), ...(await this.registry.containersOf(me))]);
    this.logger.log(`draining: handing over ${containers.size} containers once their running executions end`);
    // The own queue keeps being consumed meanwhile, so executions queued for a container before its
    // hand-over still run here, in order, and those after it are forwarded at once.
    await Promise.all([...containers].map((containerId) => this.executions.handOver(containerId)));
    await sharedClosed;
    await this.own.close();
    const moved = await this.queues.moveWaiting(workerSandboxQueue(me), SHARED_SANDBOX_QUEUE);
    this.logger.log(`drained in ${Date.now() - started} ms: ${containers.size} containers handed over, ${moved} waiting jobs moved to the shared queue`);
  }
}
