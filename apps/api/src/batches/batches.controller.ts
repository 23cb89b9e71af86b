import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { batchListQuerySchema, createBatchSchema, parseOrThrow } from '@cibox/contracts';
import { Tenant } from '../common/auth.guard';
import { requestOrigin } from '../common/request-origin';
import { BatchesService } from './batches.service';

/** The Batch API. */
@Controller('v1/batches')
export class BatchesController {
  constructor(private readonly batches: BatchesService) {}

  @Post()
  @HttpCode(200)
  create(@Tenant() tenant: string, @Body() body: unknown, @Req() req: Request) {
    return this.batches.create(tenant, parseOrThrow(createBatchSchema, body ?? {}), requestOrigin(req));
  }

  @Get()
  list(@Tenant() tenant: string, @Query() query: unknown) {
    return this.batches.list(tenant, parseOrThrow(batchListQuerySchema, query));
  }

  @Get(':id')
  retrieve(@Tenant() tenant: string, @Param('id') id: string) {
    return this.batches.retrieve(tenant, id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  cancel(@Tenant() tenant: string, @Param('id') id: string) {
    return this.batches.cancel(tenant, id);
  }
}
