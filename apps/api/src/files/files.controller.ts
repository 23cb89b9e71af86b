import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { fileListQuerySchema, parseOrThrow } from '@cibox/contracts';
import { toFileObject } from '@cibox/storage';
import { FilesService } from './files.service';
import { Tenant } from '../common/auth.guard';
import { receiveUpload } from '../common/multipart';
import { sendBlob } from '../common/send-blob';

@Controller('v1/files')
export class FilesController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly files: FilesService,
  ) {}

  @Post()
  @HttpCode(200)
  upload(@Tenant() tenant: string, @Req() req: Request) {
    return receiveUpload(req, this.config.maxUploadBytes, (upload) => this.files.upload(tenant, upload));
  }

  @Get()
  list(@Tenant() tenant: string, @Query() query: unknown) {
    return this.files.list(tenant, parseOrThrow(fileListQuerySchema, query));
  }

  @Get(':id')
  async retrieve(@Tenant() tenant: string, @Param('id') id: string) {
    return toFileObject(await this.files.get(tenant, id));
  }

  @Get(':id/content')
  async content(@Tenant() tenant: string, @Param('id') id: string, @Res() res: Response) {
    const { record, stream, size } = await this.files.content(tenant, id);
    await sendBlob(res, { stream, size }, { filename: record.filename });
  }

  @Delete(':id')
  remove(@Tenant() tenant: string, @Param('id') id: string) {
    return this.files.remove(tenant, id);
  }
}
