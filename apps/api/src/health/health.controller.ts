import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { Redis } from 'ioredis';
import { OBJECT_STORE, REDIS, type ObjectStore } from '@cibox/storage';
import { Public } from '../common/auth.guard';
import { SandboxControl } from '../sandboxes/sandbox-control.service';

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);

/** 200 once Redis, S3 and at least one worker answer; 503 with the failing parts otherwise. */
@Controller('health')
export class HealthController {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    private readonly sandboxes: SandboxControl,
  ) {}

  @Public()
  @Get()
  async check(@Res() res: Response) {
    const [redis, s3, workers] = await Promise.all([
      within(this.redis.ping(), 2000).then(() => 'ok', (e: Error) => e.message),
      within(this.store.ping(), 2000).then(() => 'ok', (e: Error) => e.message),
      within(this.sandboxes.workersAlive(), 2000).then((n) => n, () => 0),
    ]);
    const ok = redis === 'ok' && s3 === 'ok' && workers > 0;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', redis, s3, workers });
  }
}
