/** `npm test`: installs what is missing, then runs the whole jest suite (unit and end-to-end). */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT, ensurePrerequisites } from './prereqs';

async function main(): Promise<void> {
  const image = await ensurePrerequisites();
  const jest = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
  const r = spawnSync(process.execPath, [jest, ...process.argv.slice(2)], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, SANDBOX_IMAGE: image },
  });
  process.exit(r.status ?? 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
