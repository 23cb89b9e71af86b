import { Module } from '@nestjs/common';
import { SandboxesModule } from '../sandboxes/sandboxes.module';
import { HealthController } from './health.controller';

@Module({ imports: [SandboxesModule], controllers: [HealthController] })
export class HealthModule {}
