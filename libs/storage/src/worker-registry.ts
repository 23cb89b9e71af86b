import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { MEMORY_TIER_BYTES, type MemoryLimit } from '@cibox/contracts';
import { runScript } from './scripts';
import { stateKeys } from './state-keys';

/** A worker whose last heartbeat is older than this is dead. */
export const WORKER_HEARTBEAT_TTL_MS = 5_000;
export const WORKER_HEARTBEAT_INTERVAL_MS = 1_000;
export const SANDBOX_BINDING_TTL_S = 7 * 24 * 3600;
/** A forgotten worker that comes back later than this is not told; its reaper's sweep still drops what it no longer owns. */
const FORGOTTEN_MARK_TTL_S = 24 * 3600;
/**
 * How long a container placed by its creation may go without a stored record before the reaper
 * takes it for a failed one: longer than any creation, whose file copies may take minutes.
 */
export const CONTAINER_PLACING_GRACE_S = 15 * 60;

/** What a worker takes on, published with each of its heartbeats. */
export interface WorkerCapacity {
  maxContainers: number;
  /** Null: no memory cap. */
  maxMemoryBytes: number | null;
  /** A draining worker is given no container; it hands over those it holds, then stops. */
  draining: boolean;
}

/**
 * Where a container went: to its live `owner` already, `placed` on a worker (`over` when forced past
 * a cap), refused because every worker is `full`, or `none` when no worker can take it now.
 */
export type Placement =
  | { outcome: 'owner' | 'placed' | 'over'; worker: string }
  | { outcome: 'full' | 'none'; worker: null };

/**
 * Which workers are alive, what each may take on, and which worker holds each container. Liveness
 * has one signal, the time of a worker's last heartbeat; placement one rule (the live, non-draining
 * worker with the most room left); routing one: a container's jobs go to its owner while the owner
 * is alive, else it is placed again.
 */
export class WorkerRegistry {
  private readonly logger = new Logger(WorkerRegistry.name);

  constructor(private readonly redis: Redis) {}

  /**
   * The worker is alive, with these caps; in one step, so placement never sees one without the other.
   * Heartbeats and liveness both use Redis's clock: this machine's may disagree with the readers'.
   * Returns `forgotten: true` when the worker had been taken for dead and forgotten since its last beat.
   */
  async beat(workerId: string, capacity: WorkerCapacity): Promise<{ forgotten: boolean }> {
    const keys = [stateKeys.workers, stateKeys.worker(workerId), stateKeys.workerForgotten(workerId)];
    const caps = [capacity.maxContainers, capacity.maxMemoryBytes ?? 0, capacity.draining ? '1' : '0'];
    return { forgotten: (await runScript(this.redis, 'ciboxBeat', keys, [workerId, ...caps])) === 1 };
  }

  /**
   * Forgets a dead worker: its caps and reservations, and its hold on its containers; it stays
   * listed (dead) until `drop`. False (nothing changed) if it beat again since it was found dead.
   */
  async forget(workerId: string): Promise<boolean> {
    const prefixes = [stateKeys.containerOwner(''), stateKeys.worker(''), stateKeys.workerContainers('')];
    const keys = [stateKeys.workers, stateKeys.workerForgotten(workerId)];
    return (await runScript(this.redis, 'ciboxForgetWorker', keys, [workerId, WORKER_HEARTBEAT_TTL_MS, ...prefixes, FORGOTTEN_MARK_TTL_S])) === 1;
  }

  /** A forgotten worker whose queue is empty stops being listed; false if it beat again. */
  async drop(workerId: string): Promise<boolean> {
    return (await runScript(this.redis, 'ciboxDropWorker', [stateKeys.workers], [workerId, WORKER_HEARTBEAT_TTL_MS])) === 1;
  }

  alive(): Promise<string[]> {
    return this.list('alive');
  }

  dead(): Promise<string[]> {
    return this.list('dead');
  }

  async isAlive(workerId: string): Promise<boolean> {
    return (await this.alive()).includes(workerId);
  }

  private async list(which: 'alive' | 'dead'): Promise<string[]> {
    return (await runScript(this.redis, 'ciboxListWorkers', [stateKeys.workers], [WORKER_HEARTBEAT_TTL_MS, which])) as string[];
  }

  /** The container's owner while it is alive, else null. */
  async liveOwner(containerId: string): Promise<string | null> {
    const owner = await runScript(this.redis, 'ciboxRouteContainer', [stateKeys.containerOwner(containerId), stateKeys.workers], [WORKER_HEARTBEAT_TTL_MS]);
    return typeof owner === 'string' ? owner : null;
  }

  /**
   * Places the container on the live, non-draining worker with the most room left, reserving it
   * there, unless it has a live owner. `force` places it past a cap rather than refusing it: for a
   * container that was accepted already and lost its worker.
   */
  async place(containerId: string, memoryLimit: MemoryLimit, { force }: { force: boolean }): Promise<Placement> {
    const [outcome, worker] = (await runScript(
      this.redis,
      'ciboxPlaceContainer',
      [stateKeys.workers, stateKeys.containerOwner(containerId), stateKeys.containerPlacing(containerId)],
      [WORKER_HEARTBEAT_TTL_MS, containerId, MEMORY_TIER_BYTES[memoryLimit]!, force ? '1' : '0', stateKeys.worker(''), stateKeys.workerContainers(''), CONTAINER_PLACING_GRACE_S],
    )) as [Placement['outcome'], string];
    return worker ? { outcome: outcome as 'owner' | 'placed' | 'over', worker } : { outcome: outcome as 'full' | 'none', worker: null };
  }

  /**
   * The worker that runs the container's next job: its live owner, else the one it is placed on now
   * (past a cap if it must: the container was accepted). Null when no worker can take it now.
   * `memoryLimit` is asked only when the container has to be placed.
   */
  async ownerFor(containerId: string, memoryLimit: () => MemoryLimit | PromiseLike<MemoryLimit>): Promise<string | null> {
    const owner = await this.liveOwner(containerId);
    if (owner) return owner;
    const placement = await this.place(containerId, await memoryLimit(), { force: true });
    if (placement.outcome === 'over') this.logger.warn(`container ${containerId} placed on ${placement.worker} past its capacity: every live worker is full`);
    return placement.worker;
  }

  /** The containers placed on the worker. */
  containersOf(workerId: string): Promise<string[]> {
    return this.redis.hkeys(stateKeys.workerContainers(workerId));
  }

  /** What the worker's containers take of its capacity. */
  async load(workerId: string): Promise<{ containers: number; memoryBytes: number }> {
    const [containers, memory] = await Promise.all([this.redis.hlen(stateKeys.workerContainers(workerId)), this.redis.hget(stateKeys.worker(workerId), 'memory')]);
    return { containers, memoryBytes: Number(memory ?? 0) };
  }

  /** The container placed by its creation has its record stored now: it is no longer being created. */
  async stored(containerId: string): Promise<void> {
    await this.redis.del(stateKeys.containerPlacing(containerId));
  }

  /** Whether the container was placed by a creation that has not stored its record yet (for the grace). */
  async placing(containerId: string): Promise<boolean> {
    return (await this.redis.exists(stateKeys.containerPlacing(containerId))) === 1;
  }

  /** Whoever was the container's owner, alive or not. */
  owner(containerId: string): Promise<string | null> {
    return this.redis.get(stateKeys.containerOwner(containerId));
  }

  /**
   * The container leaves its owner, which frees what it reserved there (deleted, expired, handed
   * over). With `owner`, only if that worker still holds it. True if it was released.
   */
  async release(containerId: string, owner?: string): Promise<boolean> {
    const prefixes = [stateKeys.worker(''), stateKeys.workerContainers('')];
    return (await runScript(this.redis, 'ciboxReleaseContainer', [stateKeys.containerOwner(containerId)], [containerId, owner ?? '', ...prefixes])) === 1;
  }

  /**
   * Records that the container's executions now run in `sandboxId`; returns the sandbox they ran in
   * before. A different one means the container's variables are gone. (`ExecutionRepository.begin`
   * does the same in its step, for a sandbox that is running already.)
   */
  bindSandbox(containerId: string, sandboxId: string): Promise<string | null> {
    return this.redis.set(stateKeys.containerSandbox(containerId), sandboxId, 'EX', SANDBOX_BINDING_TTL_S, 'GET');
  }

  /** The sandbox the container's last execution ran in (for operators and tests). */
  boundSandbox(containerId: string): Promise<string | null> {
    return this.redis.get(stateKeys.containerSandbox(containerId));
  }

  /** Lets one worker at a time move a dead worker's jobs; false if another holds it. */
  async lockRescue(deadWorkerId: string, workerId: string): Promise<boolean> {
    return (await this.redis.set(stateKeys.rescue(deadWorkerId), workerId, 'EX', 60, 'NX')) === 'OK';
  }

  /** This installation's id: every worker sharing the Redis gets the same one. */
  async deploymentId(): Promise<string> {
    await this.redis.set(stateKeys.deployment, randomBytes(8).toString('hex'), 'NX');
    const id = await this.redis.get(stateKeys.deployment);
    if (!id) throw new Error('could not read the deployment id from Redis');
    return id;
  }
}
