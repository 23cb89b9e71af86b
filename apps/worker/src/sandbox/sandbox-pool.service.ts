import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import type { MemoryLimit } from '@cibox/contracts';
import { ACTIVE_CPU_SHARES, MEMORY_TIER_BYTES, WARM_CPU_SHARES, WORKER_LABEL, type Sandbox, type SandboxDriver } from '@cibox/sandbox';
import { WarmPoolDemand } from './warm-pool-demand';

export const SANDBOX_DRIVER = Symbol('SANDBOX_DRIVER');

/** A sandbox bound to an API container, and what this worker knows of its /mnt/data. */
export interface LiveSandbox {
  containerId: string;
  sandbox: Sandbox;
  memoryLimit: MemoryLimit;
  /** path → container file id last written to (or read from) the sandbox's /mnt/data. */
  files: Map<string, string>;
  /** The container's files version at the last sync; null before the first. */
  syncedVersion: string | null;
  /** Paths cells changed that are not saved to S3 yet: past one execution's share (see FileSync). */
  unsaved: string[];
  lastUsedMs: number;
}

/** How often warm sandboxes past the target (demand fell) or dead are removed, and the takes logged. */
const POOL_TICK_MS = 10_000;
/** Wait before the pool tries again after a failed start (containers waiting for one do not wait). */
const REFILL_RETRY_MS = 2_000;

/** A container's sandbox came from the pool (`hit`) or had to wait for one to start (`miss`). */
export type PoolTake = 'hit' | 'miss';

interface Waiter {
  resolve(sandbox: Sandbox): void;
  reject(err: unknown): void;
}

/**
 * Sandboxes of this worker: a warm pool of started kernels (so a new container's first execution
 * does not wait for `docker run`), and the sandboxes bound to containers. The pool's size follows
 * demand: as many as containers took in about the last half minute (`WarmPoolDemand`), between
 * `WARM_POOL_SIZE` and `WARM_POOL_MAX`. A container that finds the pool empty waits for the next
 * sandbox to finish starting, in turn with others waiting, ahead of the pool. Sandboxes start
 * `SANDBOX_START_CONCURRENCY` at a time for the pool, at a low CPU weight so that refilling it never
 * slows running cells, and as many again for waiting containers, at the active weight: at the low
 * one, a busy machine leaves them waiting for seconds.
 */
@Injectable()
export class SandboxPool implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SandboxPool.name);
  /** Started sandboxes waiting for a container, longest waiting first. */
  private readonly warm: Sandbox[] = [];
  private readonly live = new Map<string, LiveSandbox>();
  private readonly starting = new Map<string, Promise<LiveSandbox>>();
  private readonly waiters: Waiter[] = [];
  /** `driver.create` calls in flight, and how many of them were started for waiting containers. */
  private readonly creating = new Set<Promise<void>>();
  private creatingForWaiters = 0;
  /** Removals of warm sandboxes in flight, awaited at shutdown. */
  private readonly removing = new Set<Promise<void>>();
  private readonly demand: WarmPoolDemand;
  private readonly takeListeners: ((take: PoolTake) => void)[] = [];
  /** Takes since the last tick, for its log line. */
  private takes = { hit: 0, miss: 0 };
  private tickTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(SANDBOX_DRIVER) private readonly driver: SandboxDriver,
  ) {
    this.demand = new WarmPoolDemand(config.sandbox.warmPoolSize, config.sandbox.warmPoolMax);
  }

  onApplicationBootstrap(): void {
    this.refill();
    this.tickTimer ??= setInterval(() => this.tick(), POOL_TICK_MS).unref();
  }

  get(containerId: string): LiveSandbox | undefined {
    const live = this.live.get(containerId);
    return live && live.sandbox.session.alive ? live : undefined;
  }

  /** Started sandboxes waiting for a container. */
  warmCount(): number {
    return this.warm.length;
  }

  /** How many warm sandboxes the pool aims to hold now. */
  warmTarget(): number {
    return this.demand.target();
  }

  /** Calls `listener` on every take of a sandbox by a container (for the metrics). */
  onTake(listener: (take: PoolTake) => void): void {
    this.takeListeners.push(listener);
  }

  liveContainerIds(): string[] {
    return [...this.live.keys()];
  }

  knownSandboxIds(): Set<string> {
    return new Set([...this.warm.map((s) => s.id), ...[...this.live.values()].map((l) => l.sandbox.id)]);
  }

  /**
   * The container's sandbox; a new one (warm if possible) when it has none or its kernel died.
   * Concurrent calls for one container share one start, so a container never has two sandboxes.
   */
  acquire(containerId: string, memoryLimit: MemoryLimit): Promise<LiveSandbox> {
    const existing = this.live.get(containerId);
    if (existing?.sandbox.session.alive) {
      existing.lastUsedMs = Date.now();
      return Promise.resolve(existing);
    }
    let starting = this.starting.get(containerId);
    if (!starting) {
      starting = this.start(containerId, memoryLimit).finally(() => this.starting.delete(containerId));
      this.starting.set(containerId, starting);
    }
    return starting;
  }

  private async start(containerId: string, memoryLimit: MemoryLimit): Promise<LiveSandbox> {
    if (this.live.has(containerId)) await this.discard(containerId);
    const sandbox = await this.take();
    // Sandboxes start at the default memory tier and, but for those started for waiting containers,
    // a low CPU weight: raised to the container's here.
    await sandbox.update({ memoryBytes: MEMORY_TIER_BYTES[memoryLimit]!, cpuShares: ACTIVE_CPU_SHARES }).catch(async (err: unknown) => {
      await sandbox.remove().catch(() => undefined); // neither warm nor bound any more: nothing else would remove it
      throw err;
    });
    const live: LiveSandbox = { containerId, sandbox, memoryLimit, files: new Map(), syncedVersion: null, unsaved: [], lastUsedMs: Date.now() };
    if (this.closing) {
      await sandbox.remove().catch(() => undefined);
      throw new Error('the worker is shutting down');
    }
    this.live.set(containerId, live);
    return live;
  }

  /** Removes the container's sandbox, if this worker holds one. */
  async discard(containerId: string): Promise<void> {
    const live = this.live.get(containerId);
    if (!live) return;
    this.live.delete(containerId);
    await live.sandbox.remove().catch((err: Error) => this.logger.warn(`removing sandbox ${live.sandbox.id}: ${err.message}`));
  }

  /** A started sandbox for a container: a warm one, else the next one to start, in turn with other containers waiting. */
  private take(): Promise<Sandbox> {
    if (this.closing) return Promise.reject(new Error('the worker is shutting down'));
    this.demand.record();
    const warm = this.takeWarm();
    const take: PoolTake = warm ? 'hit' : 'miss';
    this.takes[take]++;
    for (const listener of this.takeListeners) listener(take);
    const taken = warm ? Promise.resolve(warm) : new Promise<Sandbox>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.refill();
    return taken;
  }

  private takeWarm(): Sandbox | undefined {
    while (this.warm.length > 0) {
      const s = this.warm.shift()!;
      if (s.session.alive) return s;
      this.removeInBackground(s);
    }
    return undefined;
  }

  private removeInBackground(sandbox: Sandbox): void {
    const removal: Promise<void> = sandbox
      .remove()
      .catch(() => undefined)
      .finally(() => this.removing.delete(removal));
    this.removing.add(removal);
  }

  private defaultBytes(): number {
    return MEMORY_TIER_BYTES['1g']!;
  }

  private labels(): Record<string, string> {
    return { [WORKER_LABEL]: this.config.workerId };
  }

  /**
   * Starts sandboxes (`SANDBOX_START_CONCURRENCY` at most for waiting containers, and as many for the
   * pool) until every waiting container has one coming and the pool will hold its target; never
   * blocks a caller.
   */
  private refill(): void {
    if (this.closing) return;
    const limit = this.config.sandbox.startConcurrency;
    while (this.creatingForWaiters < Math.min(this.waiters.length, limit)) this.startOne(true);
    const wanted = (this.retryTimer ? 0 : this.demand.target()) + this.waiters.length;
    while (this.creating.size - this.creatingForWaiters < limit && this.warm.length + this.creating.size < wanted) this.startOne(false);
  }

  private startOne(forWaiters: boolean): void {
    if (forWaiters) this.creatingForWaiters++;
    const creation: Promise<void> = this.createOne(forWaiters ? ACTIVE_CPU_SHARES : WARM_CPU_SHARES).finally(() => {
      if (forWaiters) this.creatingForWaiters--;
      this.creating.delete(creation);
      this.refill();
    });
    this.creating.add(creation);
  }

  /** One start: the sandbox goes to the container waiting longest, else to the pool. */
  private async createOne(cpuShares: number): Promise<void> {
    let sandbox: Sandbox;
    try {
      sandbox = await this.driver.create({ memoryBytes: this.defaultBytes(), cpuShares, labels: this.labels() });
    } catch (err) {
      // The container next in turn fails with the reason, as it would have with a start of its own.
      const waiter = this.waiters.shift();
      if (waiter) {
        waiter.reject(err);
        return;
      }
      this.logger.error(`warm pool refill failed: ${(err as Error).message}`);
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = null;
        this.refill();
      }, REFILL_RETRY_MS).unref();
      return;
    }
    if (this.closing) {
      await sandbox.remove().catch(() => undefined);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(sandbox);
    else this.warm.push(sandbox);
  }

  /** Removes warm sandboxes that died and those past the target (longest idle first), then refills. */
  private tick(): void {
    const target = this.demand.target();
    const alive = this.warm.filter((s) => s.session.alive);
    const kept = alive.slice(Math.max(0, alive.length - target));
    const removed = this.warm.filter((s) => !kept.includes(s));
    this.warm.splice(0, this.warm.length, ...kept);
    for (const s of removed) this.removeInBackground(s);
    if (this.takes.hit + this.takes.miss > 0 || removed.length > 0) {
      this.logger.log(
        `warm pool: ${this.takes.hit} hits, ${this.takes.miss} misses in the last ${POOL_TICK_MS / 1000} s; ${kept.length} warm, ${this.creating.size} starting, target ${target}`,
      );
    }
    this.takes = { hit: 0, miss: 0 };
    this.refill();
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const waiter of this.waiters.splice(0)) waiter.reject(new Error('the worker is shutting down'));
    // A sandbox being created right now is removed by createOne, or by start(), once it sees `closing`.
    await Promise.allSettled([...this.creating, ...this.starting.values(), ...this.removing]);
    const all = [...this.warm.splice(0), ...[...this.live.values()].map((l) => l.sandbox)];
    this.live.clear();
    await Promise.all(all.map((s) => s.remove().catch(() => undefined)));
  }
}
