import { Global, Module } from '@nestjs/common';
import { QUEUE_WAITS } from '@cibox/queue';
import { ApiMetrics } from './api-metrics.service';
import { MetricsController } from './metrics.controller';

const queueWaits = { provide: QUEUE_WAITS, useFactory: (metrics: ApiMetrics) => metrics.queueWaits, inject: [ApiMetrics] };

/** The api's metrics, for every module: ApiMetrics, and the queue processors' QUEUE_WAITS. */
@Global()
@Module({ controllers: [MetricsController], providers: [ApiMetrics, queueWaits], exports: [ApiMetrics, queueWaits] })
export class MetricsModule {}
