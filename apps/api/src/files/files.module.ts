import { Module } from '@nestjs/common';
import { FilesController } from './files.controller';
import { FilesService } from './files.service';

/** The Files API. */
@Module({ controllers: [FilesController], providers: [FilesService] })
export class FilesModule {}
