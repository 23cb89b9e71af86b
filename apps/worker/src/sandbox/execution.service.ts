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
import { EXECUTION_TTL_S, executionObject, redisKeys, storeUnlessFinished, type ExecuteJobData, type ExecutionEventEnvelope } from '@cibox/queue';
import { KernelGoneError, KernelProtocolError, type CellEvent, type KernelDone } from '@cibox/sandbox';
import { ContainerRepository, REDIS, isExpired, toContainerFileObject } from '@cibox/storage';
import { KeyedMutex } from './container-lock';
import { FileSync } from './file-sync.service';
import { SandboxPool, type LiveSandbox } from './sandbox-pool.service';
import { OutputBuffer } from './output-buffer';

/** How long an interrupted cell may take to stop before its sandbox is killed. */
const INTERRUPT_GRACE_MS = 2_000;
/** Figures kept per execution, and the largest one: what the sandbox sends is untrusted input. */
const MAX_IMAGES = 32;
const MAX_IMAGE_BYTES = 8 * 1024 * 1024;

/** The error of an execution whose sandbox broke the protocol and was replaced. */
function misbehaved(err: KernelProtocolError): ExecutionError {
  return { name: 'SandboxError', value: `The sandbox ${err.message} and was restarted with its files; variables were lost.`, traceback: [] };
}

/** Runs one execution job: the container's sandbox, its files, the cell, the events, the result. */
@Injectable()
export class ExecutionService {
  private readonly logger = new Logger(ExecutionService.name);
  private readonly mutex = new KeyedMutex();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly pool: SandboxPool,
    private readonly files: FileSync,
    private readonly containers: ContainerRepository,
  ) {}

  run(job: ExecuteJobData): Promise<void> {
    return this.mutex.run(job.containerId, async () => {
      await this.runLocked(job);
      await this.saveUnsaved(job.containerId);
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

  private async runLocked(job: ExecuteJobData): Promise<void> {
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

    // The files version is read alongside, so the sync before the cell usually needs no further round trip;
    // so is the mark that this execution has started, which makes running it twice impossible.
    const [container, filesVersion, firstRun] = await Promise.all([
      this.containers.getAny(job.containerId),
      this.files.filesVersion(job.containerId),
      this.redis.set(redisKeys.executionStarted(job.executionId), this.config.workerId, 'EX', EXECUTION_TTL_S, 'NX'),
    ]);
    if (firstRun === null) {
      // Already started by a worker that died (BullMQ handed the stalled job on): its code may have
      // had effects, and its kernel is gone, so it is failed rather than run again.
      return this.failLost(job);
    }
    if (!container || isExpired(container, nowSeconds())) {
      status = 'failed';
      error = { name: 'ContainerUnavailable', value: container ? 'Container is expired.' : 'Container was deleted.', traceback: [] };
    } else {
      let live: LiveSandbox | undefined;
      try {
        const acquired = await this.pool.acquire(job.containerId, container.memory_limit);
        live = acquired.live;
        if (acquired.fresh) await this.redis.set(redisKeys.containerSandbox(job.containerId), live.sandbox.id, 'EX', 7 * 24 * 3600);
        if (acquired.fresh) {
          // A fresh sandbox for a container that already ran code means its variables are gone.
          stateLost = (await this.redis.exists(this.ranKey(job.containerId))) === 1;
          await this.redis.set(this.ranKey(job.containerId), '1', 'EX', 7 * 24 * 3600);
        }
        await this.files.pushToSandbox(live, filesVersion);

        let timedOut = false;
        let killed = false;
        const softTimer = setTimeout(() => {
          timedOut = true;
          live!.sandbox.session.interrupt();
        }, job.timeoutMs);
        const hardTimer = setTimeout(() => {
          killed = true;
          void this.pool.discard(job.containerId);
        }, job.timeoutMs + INTERRUPT_GRACE_MS);
        let images = 0;
        const pending: Promise<unknown>[] = [];
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
              // base64 is 4/3 of the bytes; a figure past the limits is dropped, with a note on stderr.
              if (images >= MAX_IMAGES || e.data.length > (MAX_IMAGE_BYTES / 3) * 4 + 4) {
                const note = stderr.append(`[figure dropped: at most ${MAX_IMAGES} figures of ${MAX_IMAGE_BYTES / 1024 / 1024} MiB each per execution]\n`);
                if (note) void publish({ type: 'stderr', text: note });
                return;
              }
              const slot = results.length;
              results.push({ type: 'text', text: '' }); // placeholder keeps results in output order
              const path = `/mnt/data/${job.executionId.slice(5, 17)}-figure-${++images}.png`;
              pending.push(
                this.files.saveGenerated(live!, container, path, Buffer.from(e.data, 'base64')).then((record) => {
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
        const session = live.sandbox.session;
        let done: KernelDone | null = null;
        try {
          done = await session.exec(job.executionId, job.code, this.config.sandbox.outputMaxBytes, onEvent);
        } catch (err) {
          if (!(err instanceof KernelGoneError)) throw err;
        } finally {
          clearTimeout(softTimer);
          clearTimeout(hardTimer);
          await Promise.allSettled(pending);
        }

        if (done) {
          truncated = { stdout: done.truncated.stdout || stdout.truncated, stderr: done.truncated.stderr || stderr.truncated };
          if (timedOut && done.error?.name === 'KeyboardInterrupt') {
            status = 'timed_out';
            error = { ...done.error, name: 'TimeoutError', value: `Execution exceeded its timeout of ${job.timeoutMs} ms and was interrupted; variables were kept.` };
          } else if (done.status === 'error') {
            status = 'failed';
            error = done.error;
          }
          const pulled = await this.files.pullFromSandbox(live, container, done.files, done.deleted);
          files.push(...pulled.saved.map(toContainerFileObject));
          for (const note of pulled.notes) {
            const text = stderr.append(note);
            if (text) void publish({ type: 'stderr', text });
          }
          if (session.failure instanceof KernelProtocolError) {
            await this.pool.discard(job.containerId);
            stateLost = true;
            status = 'failed';
            error = misbehaved(session.failure);
          }
        } else {
          // The kernel is gone: killed after a timeout, out of memory, or crashed.
          const oom = !killed && (await live.sandbox.wasOomKilled());
          await this.pool.discard(job.containerId);
          stateLost = true;
          if (session.failure instanceof KernelProtocolError) {
            status = 'failed';
            error = misbehaved(session.failure);
          } else if (killed || timedOut) {
            status = 'timed_out';
            error = { name: 'TimeoutError', value: `Execution exceeded its timeout of ${job.timeoutMs} ms and did not stop when interrupted; the sandbox was restarted with its files and variables were lost.`, traceback: [] };
          } else {
            status = 'failed';
            error = oom
              ? { name: 'MemoryError', value: `The sandbox ran out of memory (limit ${container.memory_limit}) and was restarted with its files; variables were lost.`, traceback: [] }
              : { name: 'SandboxError', value: 'The sandbox kernel exited unexpectedly and was restarted with its files; variables were lost.', traceback: [] };
          }
          // Recreate now, so the container is ready again before its next execution.
          void this.pool.acquire(job.containerId, container.memory_limit).then(({ live: fresh }) => this.files.pushToSandbox(fresh)).catch(() => undefined);
        }
      } catch (err) {
        this.logger.error(`execution ${job.executionId} in ${job.containerId}: ${(err as Error).stack ?? String(err)}`);
        status = 'failed';
        error = { name: 'SandboxError', value: `The sandbox could not run this execution: ${(err as Error).message}`, traceback: [] };
        if (live && !live.sandbox.session.alive) await this.pool.discard(job.containerId);
      }
    }

    await published;
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
    if (!(await storeUnlessFinished(this.redis, { tenant: job.tenant, execution }))) return;
    await this.publish(job, { type: 'done', execution });
  }

  private async finish(job: ExecuteJobData, execution: ExecutionObject): Promise<void> {
    // Stored before `done` is published (one transaction), so whoever hears `done` can read it back.
    await this.redis
      .multi()
      .set(redisKeys.execution(job.executionId), JSON.stringify({ tenant: job.tenant, execution }), 'EX', EXECUTION_TTL_S)
      .publish(job.replyChannel, JSON.stringify({ executionId: job.executionId, event: { type: 'done', execution } } satisfies ExecutionEventEnvelope))
      .exec();
  }

  private publish(job: ExecuteJobData, event: ExecutionEvent): Promise<number> {
    return this.redis.publish(job.replyChannel, JSON.stringify({ executionId: job.executionId, event } satisfies ExecutionEventEnvelope));
  }

  private ranKey(containerId: string): string {
    return `cibox:container-ran:${containerId}`;
  }
}
