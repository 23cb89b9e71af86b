import { Module } from '@nestjs/common';
import { SandboxesModule } from '../sandboxes/sandboxes.module';
import { ContainerFilesService } from './container-files.service';
import { ContainersController } from './containers.controller';
import { ContainersService } from './containers.service';

/** The Containers and Container files APIs. */
@Module({
  imports: [SandboxesModule],
  controllers: [ContainersController],
  providers: [ContainersService, ContainerFilesService],
  exports: [ContainersService, ContainerFilesService],
})
export class ContainersModule {}
