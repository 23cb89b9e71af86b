/** The embedded S3-protocol server used when no S3_ENDPOINT is configured (development, tests). */
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
// s3rver ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void> };

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '9000' }, dir: { type: 'string', default: '.data/s3' }, address: { type: 'string', default: '127.0.0.1' } } });
  mkdirSync(values.dir, { recursive: true });
  const server = new S3rver({ port: Number(values.port), address: values.address, directory: values.dir, silent: true });
  const { port } = await server.run();
  process.stdout.write(`embedded S3 server on http://${values.address}:${port} (data in ${values.dir})\n`);
  const stop = () => void server.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
