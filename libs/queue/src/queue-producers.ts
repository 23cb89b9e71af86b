import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { getSharedConfigToken } from '@nestjs/bullmq';
import { Queue, type QueueOptions } from 'bullmq';
import { SANDBOX_JOB_OPTIONS, type SandboxJob } from './queue';

/** Producers kept at once; a `Queue` costs no connection, only listeners on the shared one. */
const MAX_PRODUCERS = 64;

/**
 * Producers for queues named at run time (a worker's own queue is named after it). Every `Queue`
 * is made with BullModule's root options, whose connection is one client that they all share, so
 * routing to many workers, or to workers that come and go, opens no connection per name; producers
 * of queues not used for a while are dropped.
 */
@Injectable()
export class QueueProducers implements OnModuleDestroy {
  private readonly queues = new Map<string, Queue>();

  constructor(@Inject(getSharedConfigToken()) private readonly root: QueueOptions) {}

  get(name: string): Queue {
    let queue = this.queues.get(name);
    if (queue) {
      this.queues.delete(name); // re-inserted below: the map's order is least recently used first
    } else {
      queue = new Queue(name, this.root);
      if (this.queues.size >= MAX_PRODUCERS) {
        const [oldest, producer] = this.queues.entries().next().value as [string, Queue];
        this.queues.delete(oldest);
        void producer.close().catch(() => undefined);
      }
    }
    this.queues.set(name, queue);
    return queue;
  }

  async add(name: string, job: SandboxJob, jobId?: string): Promise<void> {
    await this.get(name).add(job.name, job.data, { ...SANDBOX_JOB_OPTIONS, jobId });
  }

  /**
   * Moves the jobs waiting in one sandbox queue (not those running) to another, each under its id
   * with `-moved`; returns how many moved. For a queue nobody consumes any more: a job taken
   * meanwhile would also run from its copy.
   */
  async moveWaiting(from: string, to: string): Promise<number> {
    const waiting = await this.get(from).getJobs(['waiting', 'delayed', 'prioritized', 'paused']);
    for (const job of waiting) {
      // Added before it is removed: should this stop half-way, the job is in both, never in neither.
      await this.get(to).add(job.name, job.data, { ...SANDBOX_JOB_OPTIONS, jobId: `${job.id ?? job.name}-moved` });
      await job.remove();
    }
    return waiting.length;
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
