import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import {
  containerFileFromIdSchema,
  containerFileName,
  containerListQuerySchema,
  createContainerSchema,
  listQuerySchema,
  nowSeconds,
  parseOrThrow,
} from '@cibox/contracts';
import { toContainerFileObject } from '@cibox/storage';
import { Tenant } from '../common/auth.guard';
import { isMultipart, receiveUpload } from '../common/multipart';
import { sendBlob } from '../common/send-blob';
import { ContainersService } from './containers.service';
import { ContainerFilesService } from './container-files.service';
import { AcceptsSignedLink, SignedLinkExpires } from './signed-link.guard';

@Controller('v1/containers')
export class ContainersController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly containers: ContainersService,
    private readonly files: ContainerFilesService,
  ) {}

  @Post()
  @HttpCode(200)
  create(@Tenant() tenant: string, @Body() body: unknown) {
    return this.containers.create(tenant, parseOrThrow(createContainerSchema, body ?? {}));
  }

  @Get()
  list(@Tenant() tenant: string, @Query() query: unknown) {
    return this.containers.list(tenant, parseOrThrow(containerListQuerySchema, query));
  }

  @Get(':id')
  retrieve(@Tenant() tenant: string, @Param('id') id: string) {
    return this.containers.retrieve(tenant, id);
  }

  @Delete(':id')
  remove(@Tenant() tenant: string, @Param('id') id: string) {
    return this.containers.remove(tenant, id);
  }

  @Post(':id/files')
  @HttpCode(200)
  createFile(@Tenant() tenant: string, @Param('id') id: string, @Req() req: Request) {
    // A multipart upload, or JSON `{"file_id"}` naming a Files API file to copy.
    if (isMultipart(req)) return receiveUpload(req, this.config.maxUploadBytes, (upload) => this.files.upload(tenant, id, upload));
    return this.files.copy(tenant, id, parseOrThrow(containerFileFromIdSchema, req.body ?? {}).file_id);
  }

  @Get(':id/files')
  listFiles(@Tenant() tenant: string, @Param('id') id: string, @Query() query: unknown) {
    return this.files.list(tenant, id, parseOrThrow(listQuerySchema(), query));
  }

  @Get(':id/files/:fileId')
  async retrieveFile(@Tenant() tenant: string, @Param('id') id: string, @Param('fileId') fileId: string) {
    return toContainerFileObject(await this.files.get(tenant, id, fileId));
  }

  @Get(':id/files/:fileId/content')
  @AcceptsSignedLink()
  async fileContent(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Param('fileId') fileId: string,
    @SignedLinkExpires() linkExpires: number | null,
    @Res() res: Response,
  ) {
    const { record, stream, size } = await this.files.content(tenant, id, fileId);
    // A browser may keep what a link showed until the link expires, and share it with no one.
    const cacheControl = linkExpires === null ? undefined : `private, max-age=${Math.max(0, linkExpires - nowSeconds())}`;
    await sendBlob(res, { stream, size }, { filename: containerFileName(record.path), typeByExtension: true, cacheControl });
  }

  @Delete(':id/files/:fileId')
  removeFile(@Tenant() tenant: string, @Param('id') id: string, @Param('fileId') fileId: string) {
    return this.files.remove(tenant, id, fileId);
  }
}
