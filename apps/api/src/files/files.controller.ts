import { Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { fileListQuerySchema, parseOrThrow } from '@cibox/contracts';
import { toFileObject } from '@cibox/storage';
import { FilesService } from './files.service';
import { Tenant } from '../common/auth.guard';
import { sendBlob } from '../common/send-blob';

@Controller('v1/files')
export class FilesController {
  constructor(private readonly files: FilesService) {}

  @Post()
  @HttpCode(200)
  upload(@Tenant() tenant: string, @Req() req: Request) {
    return this.files.upload(tenant, req);
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
