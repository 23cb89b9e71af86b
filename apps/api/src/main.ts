import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Logger } from 'nestjs-pino';
import { randomBytes } from 'node:crypto';
import { ConfigError, hashKey, loadConfig, tenantOf } from '@cibox/config';
import { MinioObjectStore } from '@cibox/storage';
import { QUEUE_DASHBOARD_PATH, QueueDashboard } from './admin/queue-dashboard.service';
import { AppModule } from './app.module';
import { toErrorResponse } from './common/api-error.filter';
import { answerClientErrors } from './common/client-error';
import { PLAYGROUND_DIR, servePlayground } from './common/playground';
import { aliasRootPaths } from './common/root-alias';
import { ApiMetrics } from './metrics/api-metrics.service';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  if (config.apiKeyTenants.size === 0) {
    const key = `sk-dev-${randomBytes(18).toString('hex')}`;
    config.apiKeyTenants.set(hashKey(key), tenantOf(key));
    process.stdout.write(`API_KEYS is unset; generated a development key: ${key}\n`);
  }
  await new MinioObjectStore(config.s3).ensureBucket();

  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), { bodyParser: false, bufferLogs: true });
  app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(app.get(ApiMetrics).httpMiddleware);
  app.use(aliasRootPaths);
  if (config.adminKey) app.use(QUEUE_DASHBOARD_PATH, app.get(QueueDashboard).handler(config.adminKey));
  const playground = servePlayground();
  if (playground) app.use(playground);
  // JSON bodies only; multipart uploads stay unparsed streams for the handlers to pipe to S3.
  app.use(express.json({ limit: '4mb', type: ['application/json', 'application/*+json'] }));
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (!err) return next();
    const { status, body } = toErrorResponse(err);
    res.status(status).json(body);
  });
  app.enableShutdownHooks();
  await app.listen(config.port, config.host);
  // Longer than clients' and proxies' idle timeouts, so a reused connection is never closed under a request.
  const server = app.getHttpServer();
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  answerClientErrors(server);
  app.get(Logger).log(`api listening on http://${config.host}:${config.port}`);
  if (!playground) app.get(Logger).warn(`the playground is not built (${PLAYGROUND_DIR}): \`npx nx build playground\` builds it; / answers 404 until then`);
}

bootstrap().catch((err: unknown) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
