import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { runScript } from './scripts';
import { stateKeys } from './state-keys';

/** A worker whose last heartbeat is older than this is dead. */
export const WORKER_HEARTBEAT_TTL_MS = 5_000;
export const WORKER_HEARTBEAT_INTERVAL_MS = 1_000;
export const SANDBOX_BINDING_TTL_S = 7 * 24 * 3600;

/**
 * Which workers are alive, and which worker holds each container's sandbox. Liveness has one
 * signal, the time of a worker's last heartbeat, and routing one rule: a container's jobs go to its
 * owner while the owner is alive; otherwise the next worker to run one takes the container over.
 */
export class WorkerRegistry {
  constructor(private readonly redis: Redis) {}

  private cutoff(): number {
    return Date.now() - WORKER_HEARTBEAT_TTL_MS;
  }

  async beat(workerId: string): Promise<void> {
    await this.redis.zadd(stateKeys.workers, Date.now(), workerId);
  }

  async leave(workerId: string): Promise<void> {
    await this.redis.zrem(stateKeys.workers, workerId);
  }

  alive(): Promise<string[]> {
    return this.redis.zrangebyscore(stateKeys.workers, this.cutoff(), '+inf');
  }

  dead(): Promise<string[]> {
    return this.redis.zrangebyscore(stateKeys.workers, '-inf', `(${this.cutoff()}`);
  }

  async isAlive(workerId: string): Promise<boolean> {
    const beat = await this.redis.zscore(stateKeys.workers, workerId);
    return beat !== null && Number(beat) >= this.cutoff();
  }

  /** The container's owner while it is alive, else null. */
  async liveOwner(containerId: string): Promise<string | null> {
    return (await this.route(containerId, '')) ?? null;
  }

  /** The container's live owner, or `workerId` once it has taken the container over. */
  async claim(containerId: string, workerId: string): Promise<string> {
    return (await this.route(containerId, workerId)) ?? workerId;
  }

  private async route(containerId: string, claimant: string): Promise<string | null> {
    const owner = await runScript(this.redis, 'ciboxRouteContainer', [stateKeys.containerOwner(containerId), stateKeys.workers], [this.cutoff(), claimant]);
    return typeof owner === 'string' ? owner : null;
  }

  /** Whoever was the container's owner, alive or not. */
  owner(containerId: string): Promise<string | null> {
    return this.redis.get(stateKeys.containerOwner(containerId));
  }

  async release(containerId: string): Promise<void> {
    await this.redis.del(stateKeys.containerOwner(containerId));
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
