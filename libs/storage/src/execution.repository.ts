import type { Redis } from 'ioredis';
import type { ExecutionObject } from '@cibox/contracts';
import { runScript } from './scripts';
import { stateKeys } from './state-keys';
import { SANDBOX_BINDING_TTL_S } from './worker-registry';

/** Executions (in progress, then finished) stay readable for a day. */
export const EXECUTION_TTL_S = 24 * 3600;

/** What Redis holds for an execution: the object, and the tenant that may read it. */
export interface StoredExecution {
  tenant: string;
  execution: ExecutionObject;
}

/** How a worker may proceed with an execution it was handed. */
export type ExecutionStart = 'run' | 'started' | 'finished';

/** What a worker learns as it begins an execution. */
export type ExecutionBegin =
  | { start: 'finished' }
  | { start: 'started' }
  | {
      start: 'run';
      /** Cancelled before it started (the announce may have come before the worker listened). */
      cancelRequested: boolean;
      /** With a sandbox id given to `begin`: the sandbox the container's last execution ran in. */
      previousSandbox: string | null;
    };

/**
 * Execution records. Every write is one conditional step: a placeholder only where there is
 * none, and a final record never over a finished one. Whoever finishes an execution first (its
 * worker, the api at its deadline, a worker rescuing a dead one's jobs) is what every reader sees,
 * so the reply a client got and what a later GET returns always agree.
 */
export class ExecutionRepository {
  constructor(private readonly redis: Redis) {}

  async get(executionId: string): Promise<StoredExecution | null> {
    const raw = await this.redis.get(stateKeys.execution(executionId));
    return raw ? (JSON.parse(raw) as StoredExecution) : null;
  }

  /** The `in_progress` record that makes an execution readable from the moment it is queued. */
  async placeholder(record: StoredExecution): Promise<boolean> {
    return (await this.write(record, 'placeholder')) === 1;
  }

  /** Removes a placeholder of an execution that was never queued. */
  async discardPlaceholder(executionId: string): Promise<void> {
    await this.redis.del(stateKeys.execution(executionId));
  }

  /**
   * Marks the execution as started by `workerId`, unless it already finished or was started before
   * (a stalled job handed on after its worker died: its code may have had effects). In the same step
   * it reads the cancel mark and, given `sandboxId`, binds the container to that sandbox as
   * `WorkerRegistry.bindSandbox` does: every execution pays one round trip here, not three.
   */
  async begin(record: StoredExecution, workerId: string, sandboxId?: string): Promise<ExecutionBegin> {
    const { id, container_id: containerId } = record.execution;
    const keys = [stateKeys.execution(id), stateKeys.executionStarted(id), stateKeys.executionCancelled(id), stateKeys.containerSandbox(containerId)];
    const reply = (await runScript(this.redis, 'ciboxBeginExecution', keys, [
      JSON.stringify(record),
      EXECUTION_TTL_S,
      workerId,
      sandboxId ?? '',
      SANDBOX_BINDING_TTL_S,
    ])) as [ExecutionStart, number?, (string | null)?];
    const [start, cancelled, previous] = reply;
    if (start === 'finished' || start === 'started') return { start };
    return { start, cancelRequested: cancelled === 1, previousSandbox: previous ?? null };
  }

  /**
   * Asks that an execution stop: marked first, then announced, so a worker either hears it while it
   * runs the execution or finds the mark when it starts it.
   */
  async requestCancel(executionId: string): Promise<void> {
    await this.redis.set(stateKeys.executionCancelled(executionId), '1', 'EX', EXECUTION_TTL_S);
    await this.redis.publish(stateKeys.executionCancels, executionId);
  }

  /** The channel `requestCancel` announces on, for a subscriber connection. */
  static readonly cancelChannel = stateKeys.executionCancels;

  /**
   * Stores a finished execution unless one is already stored, and then publishes `announce.message`
   * on `announce.channel` in the same step. Returns what readers see from now on: this record, or the
   * one that finished first.
   */
  async finish(record: StoredExecution, announce?: { channel: string; message: string }): Promise<StoredExecution> {
    if ((await this.write(record, 'final', announce)) === 1) return record;
    return (await this.get(record.execution.id)) ?? record;
  }

  private write(record: StoredExecution, mode: 'placeholder' | 'final', announce?: { channel: string; message: string }): Promise<unknown> {
    return runScript(this.redis, 'ciboxWriteExecution', [stateKeys.execution(record.execution.id)], [
      JSON.stringify(record),
      EXECUTION_TTL_S,
      mode,
      announce?.channel ?? '',
      announce?.message ?? '',
    ]);
  }
}
