import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { getSharedConfigToken } from '@nestjs/bullmq';
import type { QueueOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { eventually } from '@cibox/testing';
import { QueueModule } from './queue.module';
import { QueueProducers } from './queue-producers';

/** The api routes to a queue per worker, and workers come and go with random ids. */
describe('QueueModule', () => {
  it('produces to any number of queue names over one Redis connection, closed with the app', async () => {
    const app = await NestFactory.createApplicationContext(QueueModule.forRoot(process.env.CIBOX_REDIS_URL!, { consumers: false }), { logger: false });
    const connection = app.get<QueueOptions>(getSharedConfigToken()).connection as Redis;
    const producers = app.get(QueueProducers);
    const names = Array.from({ length: 100 }, (_, i) => `test-${randomBytes(4).toString('hex')}-${i}`);
    try {
      // bullmq wraps a shared client in one proxy per client; its Redis-side id tells the connection.
      const clientIds = new Set<unknown>();
      for (const name of names) {
        await producers.add(name, { name: 'destroy', data: { containerId: 'cntr_x' } });
        clientIds.add(await ((await producers.get(name).client) as unknown as Redis).client('ID'));
      }
      expect([...clientIds]).toEqual([await connection.client('ID')]);
    } finally {
      for (const name of names) await producers.get(name).obliterate({ force: true });
      await app.close();
    }
    await eventually(() => connection.status === 'end', { timeoutMs: 5000 });
  });
});
