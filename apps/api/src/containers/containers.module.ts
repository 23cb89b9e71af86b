import { Module } from '@nestjs/common';
import { SandboxesModule } from '../sandboxes/sandboxes.module';
import { ContainerFilesService } from './container-files.service';
import { ContainersController } from './containers.controller';
import { ContainersService } from './containers.service';
import { FileLinks } from './file-links.service';
import { SignedLinkGuard } from './signed-link.guard';

/** The Containers and Container files APIs, and signed links to container file content (FileLinks). */
@Module({
  imports: [SandboxesModule],
  controllers: [ContainersController],
  providers: [ContainersService, ContainerFilesService, FileLinks, SignedLinkGuard],
  exports: [ContainersService, ContainerFilesService, FileLinks],
})
export class ContainersModule {}
