import { Inject, Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FIXED_QUEUES, QueueProducers, QueueWaitHistogram } from '@cibox/queue';

const QUEUE_STATES = ['waiting', 'active', 'delayed'] as const;

/**
 * The api's Prometheus registry: HTTP latency, queue depth (read at scrape time) and the waits of
 * the queues the api consumes, webhook attempts, batch lines, process metrics.
 */
@Injectable()
export class ApiMetrics {
  readonly registry = new Registry();

  private readonly httpDuration = new Histogram({
    name: 'cibox_http_request_duration_seconds',
    help: 'HTTP request latency, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  /** Webhook delivery attempts, by whether the receiver took the event (2xx) or not. */
  readonly webhookAttempts = new Counter({
    name: 'cibox_webhook_attempts_total',
    help: 'Webhook delivery attempts, delivered (2xx) or failed (non-2xx, timeout, connection error, refused target)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /** Batch lines that ended, by outcome: `completed` (a 2xx reply), `failed` (any other reply, or the line could not run), `expired` (the window closed first), `invalid` (refused at validation). */
  readonly batchLines = new Counter({
    name: 'cibox_batch_lines_total',
    help: 'Batch lines that ended, by outcome: completed, failed, expired, invalid',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly queueWaits = new QueueWaitHistogram(this.registry);

  constructor(@Inject(QueueProducers) producers: QueueProducers) {
    collectDefaultMetrics({ register: this.registry });
    // Per-worker queues are left out, to keep the series bounded.
    new Gauge({
      name: 'cibox_queue_jobs',
      help: 'Jobs in a queue by state, read when scraped',
      labelNames: ['queue', 'state'] as const,
      registers: [this.registry],
      async collect() {
        await Promise.all(
          FIXED_QUEUES.map(async (name) => {
            const counts = await producers.get(name).getJobCounts(...QUEUE_STATES);
            for (const state of QUEUE_STATES) this.set({ queue: name, state }, counts[state] ?? 0);
          }),
        );
      },
    });
  }

  /** Express middleware timing each request; the route is Nest's path template, or `unmatched`. */
  readonly httpMiddleware = (req: Request, res: Response, next: NextFunction): void => {
    const end = this.httpDuration.startTimer();
    res.once('finish', () => {
      const route = (req.route as { path?: unknown } | undefined)?.path;
      end({ method: req.method, route: typeof route === 'string' ? route : 'unmatched', status: String(res.statusCode) });
    });
    next();
  };
}
