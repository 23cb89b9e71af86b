import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import type { MemoryLimit } from '@cibox/contracts';
import { ACTIVE_CPU_SHARES, MEMORY_TIER_BYTES, WARM_CPU_SHARES, WORKER_LABEL, type Sandbox, type SandboxDriver } from '@cibox/sandbox';

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

/**
 * Sandboxes of this worker: a warm pool of started kernels (so a new container's first execution
 * does not wait for `docker run`), and the sandboxes bound to containers.
 */
@Injectable()
export class SandboxPool implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SandboxPool.name);
  private readonly warm: Sandbox[] = [];
  private readonly live = new Map<string, LiveSandbox>();
  private readonly starting = new Map<string, Promise<LiveSandbox>>();
  private filling: Promise<void> | null = null;
  private closing = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(SANDBOX_DRIVER) private readonly driver: SandboxDriver,
  ) {}

  onApplicationBootstrap(): void {
    this.refill();
  }

  get(containerId: string): LiveSandbox | undefined {
    const live = this.live.get(containerId);
    return live && live.sandbox.session.alive ? live : undefined;
  }

  /** Started sandboxes waiting for a container. */
  warmCount(): number {
    return this.warm.length;
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
    const bytes = MEMORY_TIER_BYTES[memoryLimit]!;
    let sandbox = this.takeWarm();
    if (sandbox) {
      // Warm sandboxes wait at a low CPU weight, so refilling the pool never slows running cells.
      const taken = sandbox;
      await taken.update({ memoryBytes: bytes, cpuShares: ACTIVE_CPU_SHARES }).catch(async (err: unknown) => {
        await taken.remove().catch(() => undefined); // neither warm nor bound any more: nothing else would remove it
        throw err;
      });
    } else {
      sandbox = await this.driver.create({ memoryBytes: bytes, cpuShares: ACTIVE_CPU_SHARES, labels: this.labels() });
    }
    this.refill();
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

  private takeWarm(): Sandbox | undefined {
    while (this.warm.length > 0) {
      const s = this.warm.shift()!;
      if (s.session.alive) return s;
      void s.remove().catch(() => undefined);
    }
    return undefined;
  }

  private defaultBytes(): number {
    return MEMORY_TIER_BYTES['1g']!;
  }

  private labels(): Record<string, string> {
    return { [WORKER_LABEL]: this.config.workerId };
  }

  /** Starts warm sandboxes one at a time until the pool is full; never blocks a caller. */
  private refill(): void {
    if (this.filling || this.closing) return;
    this.filling = (async () => {
      try {
        while (!this.closing && this.warm.length < this.config.sandbox.warmPoolSize) {
          const s = await this.driver.create({ memoryBytes: this.defaultBytes(), cpuShares: WARM_CPU_SHARES, labels: this.labels() });
          if (this.closing) {
            await s.remove();
            break;
          }
          this.warm.push(s);
        }
      } catch (err) {
        this.logger.error(`warm pool refill failed: ${(err as Error).message}`);
        setTimeout(() => this.refill(), 2000).unref();
      } finally {
        this.filling = null;
      }
    })();
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    // A sandbox being started right now is removed by the refill loop, or by start(), once it sees `closing`.
    await Promise.allSettled([this.filling, ...this.starting.values()]);
    const all = [...this.warm.splice(0), ...[...this.live.values()].map((l) => l.sandbox)];
    this.live.clear();
    await Promise.all(all.map((s) => s.remove().catch(() => undefined)));
  }
}
