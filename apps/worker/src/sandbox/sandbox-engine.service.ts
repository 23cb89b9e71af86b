import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import type { EngineInfo, SandboxDriver } from '@cibox/sandbox';
import { SANDBOX_DRIVER } from './sandbox-pool.service';

export type EngineHealth = { status: 'ok'; engine: EngineInfo } | { status: 'unavailable'; engine: EngineInfo; error: string };

/**
 * The Docker engine this worker drives (DOCKER_HOST). Checked once at start, before the worker takes
 * any job: a worker whose engine does not answer, or lacks the sandbox image, exits saying so rather
 * than failing every execution. Named in the log, the metrics and `/health`, so operators see which
 * workers share an engine and where sandboxes run.
 */
@Injectable()
export class SandboxEngine implements OnModuleInit {
  private readonly logger = new Logger(SandboxEngine.name);
  private checked: EngineInfo | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(SANDBOX_DRIVER) private readonly driver: SandboxDriver,
  ) {}

  async onModuleInit(): Promise<void> {
    const engine = await this.driver.checkEngine();
    this.checked = engine;
    const gib = (engine.memoryBytes / 1024 ** 3).toFixed(1);
    this.logger.log(`worker ${this.config.workerId} drives the Docker engine at ${engine.address}: ${engine.name} (ID ${engine.id}), Docker ${engine.version}, ${engine.cpus} CPUs, ${gib} GiB`);
    if (this.config.docker.kind === 'tcp' && !this.config.docker.tls) {
      this.logger.warn(`the Docker engine at ${engine.address} is reached without TLS: whoever can reach that port controls the engine`);
    }
  }

  /** The engine as checked at start. */
  get info(): EngineInfo {
    if (!this.checked) throw new Error('the Docker engine has not been checked yet');
    return this.checked;
  }

  /** Checks the engine again (it answers, and still has the image), for the worker's `/health`. */
  async health(): Promise<EngineHealth> {
    try {
      return { status: 'ok', engine: await this.driver.checkEngine() };
    } catch (err) {
      return { status: 'unavailable', engine: this.info, error: (err as Error).message };
    }
  }
}
