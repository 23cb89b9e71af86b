import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { Logger } from 'nestjs-pino';
import { ConfigError, loadConfig } from '@cibox/config';
import { SandboxEngineError } from '@cibox/sandbox';
import { DrainService } from './drain/drain.service';
import { WorkerModule } from './worker.module';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { bufferLogs: true });
  app.useLogger(app.get(Logger));
  await app.init();
  drainOnSignals(app);
  app.get(Logger).log(`worker ${config.workerId} started`);
}

/**
 * SIGTERM (or SIGINT) drains the worker, then closes the app and exits 0 (1 if the drain failed).
 * Not Nest's shutdown hooks: they end every service at once, which would remove the sandboxes of
 * the executions the drain lets finish.
 */
function drainOnSignals(app: INestApplicationContext): void {
  const logger = app.get(Logger);
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: draining before stopping`);
    let code = 0;
    try {
      await app.get(DrainService).drain();
    } catch (err) {
      logger.error(`drain failed: ${(err as Error)?.stack ?? String(err)}`);
      code = 1;
    }
    await app.close().catch((err: unknown) => {
      logger.error(`stopping: ${(err as Error)?.stack ?? String(err)}`);
      code = 1;
    });
    process.exit(code);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, (s: NodeJS.Signals) => void stop(s));
}

bootstrap().catch((err: unknown) => {
  // A bad setting or an unusable Docker engine is the operator's to fix: the message says what, a stack would not help.
  const known = err instanceof ConfigError || err instanceof SandboxEngineError;
  process.stderr.write(`${known ? err.message : (err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
