import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { listQuerySchema, parseOrThrow } from '@cibox/contracts';
import {
  WEBHOOK_EVENT_TYPES,
  createWebhookEndpointSchema,
  rotateWebhookSecretSchema,
  testWebhookEndpointSchema,
  updateWebhookEndpointSchema,
} from '@cibox/webhooks';
import { Tenant } from '../common/auth.guard';
import { WebhookEndpointsService } from './webhook-endpoints.service';

/** Webhook endpoints, per tenant, as the SDK 7 calls them (`client.webhooks.*`). */
@Controller('v1')
export class WebhookEndpointsController {
  constructor(private readonly endpoints: WebhookEndpointsService) {}

  @Post('webhook_endpoints')
  @HttpCode(200)
  create(@Tenant() tenant: string, @Body() body: unknown) {
    return this.endpoints.create(tenant, parseOrThrow(createWebhookEndpointSchema, body ?? {}));
  }

  @Get('webhook_endpoints')
  list(@Tenant() tenant: string, @Query() query: unknown) {
    return this.endpoints.list(tenant, parseOrThrow(listQuerySchema(), query));
  }

  @Get('webhook_endpoints/:id')
  retrieve(@Tenant() tenant: string, @Param('id') id: string) {
    return this.endpoints.retrieve(tenant, id);
  }

  @Post('webhook_endpoints/:id')
  @HttpCode(200)
  update(@Tenant() tenant: string, @Param('id') id: string, @Body() body: unknown) {
    return this.endpoints.update(tenant, id, parseOrThrow(updateWebhookEndpointSchema, body ?? {}));
  }

  @Delete('webhook_endpoints/:id')
  remove(@Tenant() tenant: string, @Param('id') id: string) {
    return this.endpoints.remove(tenant, id);
  }

  @Post('webhook_endpoints/:id/rotate_secret')
  @HttpCode(200)
  rotateSecret(@Tenant() tenant: string, @Param('id') id: string, @Body() body: unknown) {
    const { keep_old_secret_active_for_24_hours: keepOld } = parseOrThrow(rotateWebhookSecretSchema, body ?? {});
    return this.endpoints.rotateSecret(tenant, id, keepOld ?? false);
  }

  @Post('webhook_endpoints/:id/test')
  @HttpCode(200)
  test(@Tenant() tenant: string, @Param('id') id: string, @Body() body: unknown) {
    return this.endpoints.test(tenant, id, parseOrThrow(testWebhookEndpointSchema, body ?? {}).event_type);
  }

  /** Our extension: the endpoint's last delivery attempts, newest first. */
  @Get('webhook_endpoints/:id/deliveries')
  deliveries(@Tenant() tenant: string, @Param('id') id: string) {
    return this.endpoints.deliveryLog(tenant, id);
  }

  @Get('webhook_event_types')
  eventTypes() {
    return { object: 'list', data: [...WEBHOOK_EVENT_TYPES] };
  }
}
