/** `npm test`: installs what is missing, lints, then runs the whole jest suite (unit and end-to-end). */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT, ensurePrerequisites } from './prereqs';

/** ESLint with type-checked rules and Nx module boundaries (which read Nx's project graph). */
function lint(): void {
  const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' };
  const bin = (pkg: string, file: string) => path.join(ROOT, 'node_modules', pkg, file);
  for (const args of [[bin('nx', 'dist/bin/nx.js'), 'show', 'projects'], [bin('eslint', 'bin/eslint.js'), '.']]) {
    const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env });
    if (r.status !== 0) {
      spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit', env });
      throw new Error(`lint failed: ${path.basename(args[0]!)} ${args.slice(1).join(' ')}`);
    }
  }
  process.stdout.write('[lint] eslint: no problems\n');
}

async function main(): Promise<void> {
  const image = await ensurePrerequisites();
  if (process.env.SKIP_LINT !== '1') lint();
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
