import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import {
  nowSeconds,
  type ContainerFileObject,
  type ExecutionError,
  type ExecutionEvent,
  type ExecutionObject,
  type ExecutionResult,
  type ExecutionStatus,
} from '@cibox/contracts';
import { EXECUTION_LIMITS, executionObject, type ExecuteJobData, type ExecutionEventEnvelope } from '@cibox/queue';
import { KernelGoneError, KernelProtocolError, type CellEvent, type KernelDone } from '@cibox/sandbox';
import { ContainerRepository, ExecutionRepository, REDIS, WorkerRegistry, isExpired, toContainerFileObject, type CancelListener } from '@cibox/storage';
import { KeyedMutex } from './container-lock';
import { ExecutionCancels } from './execution-cancels.service';
import { FileSync } from './file-sync.service';
import { SandboxPool, type LiveSandbox } from './sandbox-pool.service';
import { OutputBuffer } from './output-buffer';
import { WorkerMetrics } from '../metrics/worker-metrics.service';
import { cellOutcome, type CellOutcome } from './execution-outcome';

/** How long an interrupted cell may take to stop before its sandbox is killed. */
const INTERRUPT_GRACE_MS = EXECUTION_LIMITS.interruptGraceMs;
/** Figures kept per execution, and the largest one: what the sandbox sends is untrusted input. */
const MAX_IMAGES = 32;
const MAX_IMAGE_BYTES = 8 * 1024 * 1024;

/** An execution's cancel: whether one was requested, and what it does to a running cell. */
interface CellCancel {
  requested: boolean;
  interrupt: (() => void) | null;
}

/** Runs one execution job: the container's sandbox, its files, the cell, the events, the result. */
@Injectable()
export class ExecutionService {
  private readonly logger = new Logger(ExecutionService.name);
  private readonly mutex = new KeyedMutex();
  /** Containers this worker handed over (draining): their jobs now go to the next owner. */
  private readonly handedOver = new Set<string>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly pool: SandboxPool,
    private readonly files: FileSync,
    private readonly containers: ContainerRepository,
    private readonly executions: ExecutionRepository,
    private readonly registry: WorkerRegistry,
    private readonly cancels: ExecutionCancels,
    private readonly metrics: WorkerMetrics,
  ) {}

  /** Runs the job, after the container's earlier ones; false, running nothing, if the container was handed over meanwhile. */
  run(job: ExecuteJobData): Promise<boolean> {
    return this.mutex.run(job.containerId, async () => {
      if (this.handedOver.has(job.containerId)) return false;
      const cancel: CellCancel = { requested: false, interrupt: null };
      // Listened for before the execution begins, whose step reads the cancel mark: a cancel is
      // either heard or found.
      const listener = this.cancels.listen(job.executionId, () => {
        cancel.requested = true;
        cancel.interrupt?.();
      });
      try {
        await this.runLocked(job, cancel, listener);
      } finally {
        listener.close();
      }
      await this.saveUnsaved(job.containerId);
      return true;
    });
  }

  /**
   * Gives the container up once the executions that reached it before have ended (their files are
   * saved by then): it is released, so its next job places it on another worker, which recreates
   * the sandbox from S3; this worker's sandbox is removed.
   */
  handOver(containerId: string): Promise<void> {
    return this.mutex.run(containerId, async () => {
      this.handedOver.add(containerId);
      await this.registry.release(containerId, this.config.workerId);
      await this.pool.discard(containerId);
    });
  }

  /**
   * Files a cell changed past one execution's share are saved once its result is out, still under
   * the container's lock, so they are listed before the container's next execution runs.
   */
  private async saveUnsaved(containerId: string): Promise<void> {
    const live = this.pool.get(containerId);
    if (!live || live.unsaved.length === 0) return;
    const container = await this.containers.getAny(containerId);
    try {
      if (container) await this.files.saveUnsaved(live, container);
    } catch (err) {
      this.logger.error(`saving the rest of ${containerId}'s changed files: ${(err as Error).message}`);
    }
    if (!live.sandbox.session.alive) await this.pool.discard(containerId);
  }

  private async runLocked(job: ExecuteJobData, cancel: CellCancel, listener: CancelListener): Promise<void> {
    const started = Date.now();
    // Without a stream, nobody listens for output as it happens: only `done` is published.
    // Publishes are chained so that events, and `done` after them, arrive in the order they happened.
    let published: Promise<unknown> = Promise.resolve();
    const publish = (event: ExecutionEvent) => {
      if (job.stream) published = published.then(() => this.publish(job, event)).catch(() => undefined);
      return published;
    };
    const stdout = new OutputBuffer(this.config.sandbox.outputMaxBytes);
    const stderr = new OutputBuffer(this.config.sandbox.outputMaxBytes);
    // Result texts share one budget the size of stdout's; past it they are cut with a notice.
    const resultText = new OutputBuffer(this.config.sandbox.outputMaxBytes);
    const results: ExecutionResult[] = [];
    const files: ContainerFileObject[] = [];
    let status: ExecutionStatus = 'completed';
    let error: ExecutionError | null = null;
    let stateLost = false;
    let truncated = { stdout: false, stderr: false };

    // The files version is read alongside, so the sync before the cell usually needs no further round
    // trip; so is the mark that this worker starts the execution, which makes running it twice
    // impossible (and, in the same step, the cancel mark and the binding of a running sandbox).
    const running = this.pool.get(job.containerId);
    const [container, filesVersion, begun] = await Promise.all([
      this.containers.getAny(job.containerId),
      this.files.filesVersion(job.containerId),
      this.executions.begin({ tenant: job.tenant, execution: executionObject(job, { status: 'in_progress' }) }, this.config.workerId, running?.sandbox.id),
    ]);
    // Already ended by someone else (the api stopped waiting while it was queued): nothing to run.
    if (begun.start === 'finished') return;
    // Already started by a worker that died (BullMQ handed the stalled job on): its code may have
    // had effects, and its kernel is gone, so it is failed rather than run again.
    if (begun.start === 'started') return this.failLost(job);
    if (begun.cancelRequested) listener.cancel();
    // The job's log scope (SandboxProcessor) names the execution, its container, tenant, request and response.
    this.logger.log('execution started');
    if (!container || isExpired(container, nowSeconds())) {
      status = 'failed';
      error = { name: 'ContainerUnavailable', value: container ? 'Container is expired.' : 'Container was deleted.', traceback: [] };
    } else {
      let live: LiveSandbox | undefined;
      try {
        live = await this.pool.acquire(job.containerId, container.memory_limit);
        // Variables live in one kernel: a container whose last execution ran in another sandbox
        // (killed, crashed, recreated on another worker) has lost them. Swapping in this sandbox's id
        // makes that true by construction, whoever (re)created the sandbox and when. `begin` swapped
        // in the sandbox that was running; a sandbox started since (a first one, or one replacing a
        // kernel that died meanwhile) is swapped in now.
        const [previousSandbox] = await Promise.all([
          live.sandbox.id === running?.sandbox.id ? begun.previousSandbox : this.registry.bindSandbox(job.containerId, live.sandbox.id),
          this.files.pushToSandbox(live, filesVersion),
        ]);
        stateLost = previousSandbox !== null && previousSandbox !== live.sandbox.id;

        const session = live.sandbox.session;
        let interrupted = false;
        let killed = false;
        let cancelTimer: NodeJS.Timeout | undefined;
        let ranCell = false;
        const softTimer = setTimeout(() => {
          interrupted = true;
          session.interrupt();
        }, job.timeoutMs);
        const hardTimer = setTimeout(() => {
          killed = true;
          void this.pool.discard(job.containerId);
        }, job.timeoutMs + INTERRUPT_GRACE_MS);
        let images = 0;
        const pending: Promise<unknown>[] = [];
        const sandbox = live;
        const onEvent = (e: CellEvent) => {
          switch (e.type) {
            case 'stdout':
            case 'stderr': {
              const buf = e.type === 'stdout' ? stdout : stderr;
              const text = buf.append(e.text);
              if (text) void publish({ type: e.type, text });
              return;
            }
            case 'result': {
              const text = resultText.append(e.text);
              if (!text) return;
              const result: ExecutionResult = { type: 'text', text };
              results.push(result);
              void publish({ type: 'result', result });
              return;
            }
            case 'image': {
              // A figure past the limits is dropped, with a note on stderr.
              if (images >= MAX_IMAGES || e.png.length > MAX_IMAGE_BYTES) {
                const note = stderr.append(`[figure dropped: at most ${MAX_IMAGES} figures of ${MAX_IMAGE_BYTES / 1024 / 1024} MiB each per execution]\n`);
                if (note) void publish({ type: 'stderr', text: note });
                return;
              }
              const slot = results.length;
              results.push({ type: 'text', text: '' }); // placeholder keeps results in output order
              const path = `/mnt/data/${job.executionId.slice(5, 17)}-figure-${++images}.png`;
              pending.push(
                this.files.saveGenerated(sandbox, container, path, e.png).then((record) => {
                  const result: ExecutionResult = { type: 'image', format: 'png', file_id: record.id };
                  results[slot] = result;
                  files.push(toContainerFileObject(record));
                  return publish({ type: 'result', result });
                }),
              );
              return;
            }
          }
        };
        let done: KernelDone | null = null;
        try {
          // From here a cancel interrupts the cell like a timeout does, and kills it if it ignores
          // that; before, it only marked the execution, which then does not run at all (see below).
          cancel.interrupt = () => {
            session.interrupt();
            cancelTimer = setTimeout(() => {
              killed = true;
              void this.pool.discard(job.containerId);
            }, INTERRUPT_GRACE_MS);
          };
          if (!cancel.requested) {
            ranCell = true;
            done = await session.exec(job.executionId, job.code, this.config.sandbox.outputMaxBytes, onEvent);
          }
        } catch (err) {
          if (!(err instanceof KernelGoneError)) throw err;
        } finally {
          clearTimeout(softTimer);
          clearTimeout(hardTimer);
          clearTimeout(cancelTimer);
          listener.close();
          await Promise.allSettled(pending);
        }
        if (done) {
          truncated = { stdout: done.truncated.stdout || stdout.truncated, stderr: done.truncated.stderr || stderr.truncated };
          const pulled = await this.files.pullFromSandbox(live, container, done.files, done.deleted);
          files.push(...pulled.saved.map(toContainerFileObject));
          for (const note of pulled.notes) {
            const text = stderr.append(note);
            if (text) void publish({ type: 'stderr', text });
          }
        }
        const failure = session.failure;
        const outcome: CellOutcome = !ranCell
          ? { status: 'cancelled', sandboxLost: false, error: { name: 'Cancelled', value: 'The execution was cancelled before it ran.', traceback: [] } }
          : cellOutcome({
          done,
          failure,
          interrupted,
          cancelled: cancel.requested,
          killed,
          oomKilled: !done && !killed && !(failure instanceof KernelProtocolError) && (await live.sandbox.wasOomKilled()),
          timeoutMs: job.timeoutMs,
          memoryLimit: container.memory_limit,
        });
        status = outcome.status;
        error = outcome.error;
        if (outcome.sandboxLost) {
          if (failure instanceof KernelProtocolError) {
            this.metrics.protocolViolations.inc();
            this.logger.warn(`sandbox of ${job.containerId} ${failure.message}; recreating it`);
          }
          this.metrics.sandboxRecreations.inc();
          await this.pool.discard(job.containerId);
          stateLost = true;
          // Recreate now, so the container is ready again before its next execution.
          void this.pool
            .acquire(job.containerId, container.memory_limit)
            .then((fresh) => this.files.pushToSandbox(fresh))
            .catch(() => undefined);
        }
      } catch (err) {
        this.logger.error(`execution ${job.executionId} in ${job.containerId}: ${(err as Error).stack ?? String(err)}`);
        status = 'failed';
        error = { name: 'SandboxError', value: `The sandbox could not run this execution: ${(err as Error).message}`, traceback: [] };
        if (live && !live.sandbox.session.alive) await this.pool.discard(job.containerId);
      }
    }

    await published;
    this.metrics.executionDuration.observe({ status }, (Date.now() - started) / 1000);
    this.logger.log({ msg: 'execution ended', status, durationMs: Date.now() - started, stateLost, error: error?.name });
    await this.finish(
      job,
      executionObject(job, {
        status,
        error,
        state_lost: stateLost,
        duration_ms: Date.now() - started,
        stdout: stdout.text,
        stderr: stderr.text,
        results: results.filter((r) => r.type !== 'text' || r.text !== ''),
        files,
        truncated,
      }),
    );
  }

  /** Records an execution whose worker died mid-run as failed, and tells whoever waits on it. */
  async failLost(job: ExecuteJobData): Promise<void> {
    const execution = executionObject(job, {
      status: 'failed',
      error: { name: 'SandboxError', value: 'The worker running this execution stopped; its sandbox was lost with its variables. Files are kept.', traceback: [] },
      state_lost: true,
    });
    // Only over the api's placeholder: a result the dead worker did store stands.
    await this.finish(job, execution);
  }

  /** Stores the result unless the execution already ended, and announces it in the same step. */
  private async finish(job: ExecuteJobData, execution: ExecutionObject): Promise<void> {
    const message = JSON.stringify({ executionId: job.executionId, event: { type: 'done', execution } } satisfies ExecutionEventEnvelope);
    await this.executions.finish({ tenant: job.tenant, execution }, { channel: job.replyChannel, message });
  }

  private publish(job: ExecuteJobData, event: ExecutionEvent): Promise<number> {
    return this.redis.publish(job.replyChannel, JSON.stringify({ executionId: job.executionId, event } satisfies ExecutionEventEnvelope));
  }
}
