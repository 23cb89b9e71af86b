import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { Public } from '../common/auth.guard';
import { sameSecret } from '../common/same-secret';
import { ApiMetrics } from './api-metrics.service';

/** Prometheus exposition; behind `METRICS_TOKEN` when it is set, not behind the tenants' keys. */
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: ApiMetrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Public()
  @Get()
  async scrape(@Req() req: Request, @Res() res: Response) {
    const token = this.config.metrics.token;
    if (token && !sameSecret(req.headers.authorization ?? '', `Bearer ${token}`)) {
      res.status(401).json({ error: { message: 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
      return;
    }
    res.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
  }
}
