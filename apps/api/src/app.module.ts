import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { randomUUID } from 'node:crypto';
import type { AppConfig } from '@cibox/config';
import { StorageModule } from '@cibox/storage';
import { ApiErrorFilter } from './common/api-error.filter';
import { AuthGuard } from './common/auth.guard';
import { ContainersController } from './containers/containers.controller';
import { ContainersService } from './containers/containers.service';
import { ContainerFilesService } from './containers/container-files.service';
import { SandboxControl } from './executions/sandbox-control.service';
import { ExecutionEvents } from './executions/execution-events.service';
import { ExecutionsController } from './executions/executions.controller';
import { ExecutionsService } from './executions/executions.service';
import { FilesController } from './files/files.controller';
import { FilesService } from './files/files.service';
import { HealthController } from './health/health.controller';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        StorageModule.forRoot(config),
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.logLevel,
            genReqId: (req, res) => {
              const given = req.headers['x-request-id'];
              const id = typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : `req_${randomUUID().replace(/-/g, '')}`;
              res.setHeader('x-request-id', id);
              return id;
            },
            autoLogging: { ignore: (req) => req.url === '/health' },
            redact: ['req.headers.authorization'],
          },
        }),
      ],
      controllers: [FilesController, ContainersController, ExecutionsController, HealthController],
      providers: [
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useClass: ApiErrorFilter },
        FilesService,
        ContainersService,
        ContainerFilesService,
        SandboxControl,
        ExecutionEvents,
        ExecutionsService,
      ],
    };
  }
}
