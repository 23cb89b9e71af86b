/**
 * `npm run up`: installs what is missing, starts the whole stack in the foreground and keeps it up
 * (a crashed process is restarted with back-off), stops it on Ctrl-C or SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { URL } from 'node:url';
import { startStack, tcpReachable } from '../libs/testing/src/stack';
import { ROOT, ensurePrerequisites } from './prereqs';

async function main(): Promise<void> {
  const image = await ensurePrerequisites();
  const port = Number(process.env.PORT ?? 8080);
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new URL(redisUrl);
  const redisUp = await tcpReachable(redis.hostname, Number(redis.port || 6379));
  let apiKey: string | undefined;
  if (!process.env.API_KEYS) apiKey = `sk-dev-${randomBytes(18).toString('hex')}`;
  const stack = await startStack({
    port,
    apiKeys: apiKey ? [apiKey] : process.env.API_KEYS!.split(','),
    redisUrl: redisUp ? redisUrl : undefined,
    redisPort: Number(redis.port || 6379),
    s3Endpoint: process.env.S3_ENDPOINT,
    dataDir: path.join(ROOT, '.data'),
    persistRedis: true,
    workers: Number(process.env.WORKERS ?? 1),
    env: { SANDBOX_IMAGE: process.env.SANDBOX_IMAGE ?? image },
    inheritOutput: process.env.QUIET !== '1',
    supervise: { log: (line) => process.stderr.write(`[supervisor] ${line}\n`) },
  });
  process.stdout.write(
    [
      '',
      `  Code Interpreter backend is up: ${stack.baseUrl}/v1`,
      `  Playground (paste the key there): ${stack.baseUrl}/`,
      apiKey ? `  API key (generated for development): ${apiKey}` : '  API keys: from API_KEYS',
      `  Redis ${stack.redisUrl}   S3 ${stack.s3Endpoint}   sandbox image ${image}`,
      `  Try: OPENAI_BASE_URL=${stack.baseUrl}/v1 OPENAI_API_KEY=${apiKey ?? '<key>'} node -e "new (require('openai').default)().containers.create({name:'demo'}).then(console.log)"`,
      '  Ctrl-C stops everything this started.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping…\n');
    stack.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`stopping failed: ${(err as Error)?.message ?? String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
