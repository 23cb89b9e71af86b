import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { ConfigError, loadConfig } from '@cibox/config';
import { SandboxEngineError } from '@cibox/sandbox';
import { WorkerModule } from './worker.module';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { bufferLogs: true });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  await app.init();
  app.get(Logger).log(`worker ${config.workerId} started`);
}

bootstrap().catch((err: unknown) => {
  // A bad setting or an unusable Docker engine is the operator's to fix: the message says what, a stack would not help.
  const known = err instanceof ConfigError || err instanceof SandboxEngineError;
  process.stderr.write(`${known ? err.message : (err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
