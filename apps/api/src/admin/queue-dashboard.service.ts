import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { getSharedConfigToken } from '@nestjs/bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue, type QueueOptions } from 'bullmq';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { BATCH_LINE_QUEUE, BATCH_QUEUE, FIXED_QUEUES, RESPONSES_QUEUE, SHARED_SANDBOX_QUEUE, WEBHOOK_QUEUE, workerSandboxQueue } from '@cibox/queue';
import { WorkerRegistry } from '@cibox/storage';
import { adminGate } from './admin-gate';

/** Where the api serves the dashboard. */
export const QUEUE_DASHBOARD_PATH = '/admin/queues';

const DESCRIPTIONS: Record<(typeof FIXED_QUEUES)[number], string> = {
  [RESPONSES_QUEUE]: 'background responses, run by the api instances',
  [WEBHOOK_QUEUE]: 'webhook deliveries, one job per event and endpoint',
  [BATCH_QUEUE]: "batches: one job drives each batch's life",
  [BATCH_LINE_QUEUE]: 'the lines of the running batches',
  [SHARED_SANDBOX_QUEUE]: 'sandbox jobs of containers with no live owner: the first worker free takes them',
};

/**
 * bull-board over every queue of the deployment: the fixed ones, and the sandbox queue of each
 * worker the registry knows (alive, or dead with jobs not yet moved to the shared queue). Workers
 * come and go, so the list is brought up to date before each of the dashboard's API calls. The
 * `Queue`s share BullModule's one connection, so a worker's queue costs no connection here.
 */
@Injectable()
export class QueueDashboard implements OnModuleDestroy {
  private readonly queues = new Map<string, Queue>();
  private readonly server = new ExpressAdapter().setBasePath(QUEUE_DASHBOARD_PATH);
  private readonly board = createBullBoard({
    queues: [],
    serverAdapter: this.server,
    options: { uiConfig: { boardTitle: 'cibox queues' } },
  });

  constructor(
    @Inject(getSharedConfigToken()) private readonly root: QueueOptions,
    private readonly registry: WorkerRegistry,
  ) {
    for (const name of FIXED_QUEUES) this.add(name, DESCRIPTIONS[name]);
  }

  /** The Express handler to mount at QUEUE_DASHBOARD_PATH, behind `adminKey`. */
  handler(adminKey: string): Router {
    const app = this.server.getRouter() as Router & { disable(setting: string): void };
    app.disable('x-powered-by');
    const router = Router();
    router.use(adminGate(adminKey));
    router.use('/api', (_req: Request, _res: Response, next: NextFunction) => {
      this.refresh().then(() => next(), next);
    });
    router.use(app);
    return router;
  }

  /** Adds the queues of workers that appeared, and drops those of workers the registry forgot. */
  async refresh(): Promise<void> {
    const [alive, dead] = await Promise.all([this.registry.alive(), this.registry.dead()]);
    const workers = new Map([...dead, ...alive].map((id) => [workerSandboxQueue(id), id]));
    for (const [name, queue] of this.queues) {
      if ((FIXED_QUEUES as readonly string[]).includes(name) || workers.has(name)) continue;
      this.board.removeQueue(name);
      this.queues.delete(name);
      void queue.close().catch(() => undefined);
    }
    for (const [name, id] of workers) if (!this.queues.has(name)) this.add(name, `sandbox jobs of the containers that worker ${id} owns`);
  }

  private add(name: string, description: string): void {
    const queue = new Queue(name, this.root);
    this.queues.set(name, queue);
    this.board.addQueue(new BullMQAdapter(queue, { description }));
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
