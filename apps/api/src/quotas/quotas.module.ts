import { Global, Module } from '@nestjs/common';
import { QuotasService } from './quotas.service';

/** Per-tenant limits, for the guard and the services that create containers and executions. */
@Global()
@Module({ providers: [QuotasService], exports: [QuotasService] })
export class QuotasModule {}
