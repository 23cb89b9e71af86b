/** The scripted OpenAI-compatible upstream as its own process, for the e2e suite and the bench. */
import { parseArgs } from 'node:util';
import { startScriptedUpstream } from '../libs/testing/src/scripted-upstream';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });
  // The key comes from the environment, not the command line, as a real one would.
  const upstream = await startScriptedUpstream({ port: Number(values.port), host: values.host, apiKey: process.env.SCRIPTED_UPSTREAM_API_KEY || null });
  process.stdout.write(`scripted upstream on ${upstream.baseUrl}\n`);
  const stop = () => void upstream.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
