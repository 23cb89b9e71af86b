import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { Redis } from 'ioredis';
import { OBJECT_STORE, REDIS, type ObjectStore } from '@cibox/storage';
import { Public } from '../common/auth.guard';
import { SandboxControl } from '../sandboxes/sandbox-control.service';

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);

type Check = { status: 'ok' | 'down'; detail: string };
const check = <T>(p: Promise<T>, detail: (value: T) => Check): Promise<Check> =>
  within(p, 2000).then(detail, (e: Error) => ({ status: 'down', detail: e.message }));

/** `/health`: liveness (unchanged shape). `/health/ready`: each dependency as ok or down, with why. */
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

  @Public()
  @Get('ready')
  async ready(@Res() res: Response) {
    const reached = (): Check => ({ status: 'ok', detail: 'reachable' });
    const [redis, s3, workers] = await Promise.all([
      check(this.redis.ping(), reached),
      check(this.store.ping(), reached),
      check(this.sandboxes.workersAlive(), (n): Check => ({ status: n > 0 ? 'ok' : 'down', detail: `${n} live worker${n === 1 ? '' : 's'}` })),
    ]);
    const ready = [redis, s3, workers].every((c) => c.status === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'down', checks: { redis, s3, workers } });
  }
}
