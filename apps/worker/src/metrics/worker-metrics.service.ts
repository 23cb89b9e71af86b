import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { WorkerRegistry } from '@cibox/storage';
import { HeartbeatService } from '../heartbeat/heartbeat.service';
import { SandboxEngine } from '../sandbox/sandbox-engine.service';
import { QueueWaitHistogram } from '@cibox/queue';
import { SandboxPool } from '../sandbox/sandbox-pool.service';

/**
 * The worker's Prometheus metrics, served at `/metrics` on `WORKER_METRICS_PORT` (none when 0), with
 * `/health` beside them (its Docker engine answers and has the sandbox image) for health checks.
 * Unauthenticated: the port is meant for the operator's network, not the public one.
 */
@Injectable()
export class WorkerMetrics implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(WorkerMetrics.name);
  readonly registry = new Registry();
  private server: Server | null = null;

  readonly executionDuration = new Histogram({
    name: 'cibox_execution_duration_seconds',
    help: 'Executions from the worker taking the job to the stored result, by final status',
    labelNames: ['status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  readonly sandboxRecreations = new Counter({
    name: 'cibox_sandbox_recreations_total',
    help: 'Sandboxes discarded after an execution lost them (crash, kill, OOM, protocol violation) and started again',
    registers: [this.registry],
  });

  /** Waits of the shared sandbox queue and of this worker's own (`sandbox-worker`). */
  readonly queueWaits = new QueueWaitHistogram(this.registry);

  readonly protocolViolations = new Counter({
    name: 'cibox_kernel_protocol_violations_total',
    help: 'Kernels that broke the sandbox protocol (and were recreated)',
    registers: [this.registry],
  });

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    pool: SandboxPool,
    private readonly engine: SandboxEngine,
    heartbeat: HeartbeatService,
    workers: WorkerRegistry,
  ) {
    collectDefaultMetrics({ register: this.registry, labels: { worker: config.workerId } });
    const worker = config.workerId;
    new Gauge({
      name: 'cibox_sandboxes',
      help: 'Sandboxes of this worker: live (bound to a container) and pooled (warm, waiting)',
      labelNames: ['worker', 'state'] as const,
      registers: [this.registry],
      collect() {
        this.set({ worker, state: 'live' }, pool.liveContainerIds().length);
        this.set({ worker, state: 'pooled' }, pool.warmCount());
      },
    });
    new Gauge({
      name: 'cibox_worker_engine_info',
      help: 'The Docker engine this worker runs its sandboxes on (always 1): its address (DOCKER_HOST), ID, name and version',
      labelNames: ['worker', 'address', 'engine_id', 'engine_name', 'version'] as const,
      registers: [this.registry],
      collect() {
        const { address, id, name, version } = engine.info;
        this.set({ worker, address, engine_id: id, engine_name: name, version }, 1);
      },
    });
    const { maxContainers, maxMemoryBytes } = config.capacity;
    new Gauge({
      name: 'cibox_worker_capacity',
      help: 'What this worker takes on (WORKER_MAX_CONTAINERS, WORKER_MAX_MEMORY; no memory series without a memory cap)',
      labelNames: ['worker', 'resource'] as const,
      registers: [this.registry],
      collect() {
        this.set({ worker, resource: 'containers' }, maxContainers);
        if (maxMemoryBytes !== null) this.set({ worker, resource: 'memory_bytes' }, maxMemoryBytes);
      },
    });
    new Gauge({
      name: 'cibox_worker_placed',
      help: 'Containers placed on this worker, and the memory their tiers reserve (read from Redis at each scrape)',
      labelNames: ['worker', 'resource'] as const,
      registers: [this.registry],
      async collect() {
        const load = await workers.load(worker);
        this.set({ worker, resource: 'containers' }, load.containers);
        this.set({ worker, resource: 'memory_bytes' }, load.memoryBytes);
      },
    });
    new Gauge({
      name: 'cibox_worker_draining',
      help: '1 while this worker drains (takes no new container, hands over those it holds), else 0',
      labelNames: ['worker'] as const,
      registers: [this.registry],
      collect() {
        this.set({ worker }, heartbeat.draining ? 1 : 0);
      },
    });
    new Gauge({
      name: 'cibox_warm_pool_target',
      help: 'Warm sandboxes this worker aims to keep: recent demand, between WARM_POOL_SIZE and WARM_POOL_MAX',
      labelNames: ['worker'] as const,
      registers: [this.registry],
      collect() {
        this.set({ worker }, pool.warmTarget());
      },
    });
    const takes = new Counter({
      name: 'cibox_warm_pool_takes_total',
      help: 'Sandboxes containers took: from the warm pool (hit) or after waiting for one to start (miss)',
      labelNames: ['worker', 'result'] as const,
      registers: [this.registry],
    });
    for (const result of ['hit', 'miss'] as const) takes.inc({ worker, result }, 0); // both series exist from the start
    pool.onTake((result) => takes.inc({ worker, result }));
  }

  async onApplicationBootstrap(): Promise<void> {
    const port = this.config.metrics.workerPort;
    if (!port) return;
    const server = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/health') {
        void this.engine.health().then((health) => {
          const body = JSON.stringify({ ...health, worker: this.config.workerId });
          res.writeHead(health.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' }).end(body);
        });
        return;
      }
      if (req.method !== 'GET' || req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.config.host, () => resolve());
    });
    this.server = server;
    this.logger.log(`metrics on http://${this.config.host}:${port}/metrics`);
  }

  async onModuleDestroy(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
