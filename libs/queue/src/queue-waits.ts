import { Histogram, type Registry } from 'prom-client';
import { workerSandboxQueue } from './queue';

/** Where a `QueueProcessor` reports how long each job waited; the app's metrics provide it. */
export const QUEUE_WAITS = Symbol('QUEUE_WAITS');

export interface QueueWaits {
  observe(queue: string, seconds: number): void;
}

/**
 * The label a queue's series carry: every worker's own sandbox queue is the one `sandbox-worker`,
 * so the series stay bounded as workers come and go (each worker reports its own).
 */
export const queueMetricLabel = (name: string) => (name.startsWith(workerSandboxQueue('')) ? 'sandbox-worker' : name);

/** `cibox_queue_wait_seconds{queue}` on an app's registry: the waits of the queues the app consumes. */
export class QueueWaitHistogram implements QueueWaits {
  private readonly histogram: Histogram<'queue'>;

  constructor(registry: Registry) {
    this.histogram = new Histogram({
      name: 'cibox_queue_wait_seconds',
      help: 'Time from a job being ready (added, or its delay over) to a worker starting it, first starts only, by queue (every worker queue is sandbox-worker)',
      labelNames: ['queue'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    });
  }

  observe(queue: string, seconds: number): void {
    // Producer and consumer clocks may differ by a little: a wait is never negative.
    this.histogram.observe({ queue: queueMetricLabel(queue) }, Math.max(0, seconds));
  }
}
