import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { randomUUID } from 'node:crypto';
import type { AppConfig } from '@cibox/config';
import { QueueModule } from '@cibox/queue';
import { StorageModule } from '@cibox/storage';
import { AdminModule } from './admin/admin.module';
import { ApiErrorFilter } from './common/api-error.filter';
import { AuthGuard } from './common/auth.guard';
import { QuotasModule } from './quotas/quotas.module';
import { RateLimitGuard } from './quotas/rate-limit.guard';
import { ContainersModule } from './containers/containers.module';
import { ExecutionsModule } from './executions/executions.module';
import { FilesModule } from './files/files.module';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { ModelsModule } from './models/models.module';
import { ResponsesModule } from './responses/responses.module';
import { ChatModule } from './chat/chat.module';
import { BatchesModule } from './batches/batches.module';
import { WebhooksModule } from './webhooks/webhooks.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        StorageModule.forRoot(config),
        QueueModule.forRoot(config.redisUrl, { consumers: true }),
        LoggerModule.forRoot({
          // Ids that services add (LogContext.assign) reach the request's `request completed` line too.
          assignResponse: true,
          pinoHttp: {
            // A line logged while serving a request carries its id as `requestId`, as jobs carry it on to workers.
            quietReqLogger: true,
            customAttributeKeys: { reqId: 'requestId' },
            level: config.logLevel,
            genReqId: (req, res) => {
              const given = req.headers['x-request-id'];
              const id = typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : `req_${randomUUID().replace(/-/g, '')}`;
              res.setHeader('x-request-id', id);
              return id;
            },
            autoLogging: { ignore: (req) => req.url === '/health' || req.url === '/health/ready' || req.url === '/metrics' },
            redact: ['req.headers.authorization'],
          },
        }),
        QuotasModule,
        FilesModule,
        ContainersModule,
        ExecutionsModule,
        HealthModule,
        MetricsModule,
        ModelsModule.forRoot(config),
        ResponsesModule.forRoot(config),
        ChatModule,
        BatchesModule.forRoot(config),
        WebhooksModule.forRoot(config),
        AdminModule.forRoot(config),
      ],
      providers: [
        { provide: APP_GUARD, useClass: AuthGuard },
        // After AuthGuard (guards run in this order): it counts requests against the tenant it found.
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_FILTER, useClass: ApiErrorFilter },
      ],
    };
  }
}
