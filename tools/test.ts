/**
 * `npm test`: installs what is missing, lints, runs the whole jest suite (unit and end-to-end), then
 * the unit suite once more on Node 22. Arguments are passed to jest; with any, only that jest run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT, ensureBrowserForTests, ensurePrerequisites, ensurePythonForTests } from './prereqs';

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

const JEST = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');

/**
 * Node 20 is past its end of life and the app image runs Node 22, so the unit suite also runs on
 * the Node 22 that the `node` devDependency carries (its preinstall puts the binary here).
 */
function unitSuiteOnNode22(): number {
  const node22 = path.join(ROOT, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(node22)) {
    process.stderr.write(`[node22] ${node22} is missing: the node devDependency's preinstall fetches it; run npm ci\n`);
    return 1;
  }
  const version = spawnSync(node22, ['--version'], { encoding: 'utf8' }).stdout.trim();
  process.stdout.write(`[node22] unit suite on Node ${version}\n`);
  const r = spawnSync(node22, [JEST, '--selectProjects', 'unit', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  process.stdout.write(r.status === 0 ? `[node22] unit suite passed on Node ${version}\n` : `[node22] unit suite FAILED on Node ${version}\n`);
  return r.status ?? 1;
}

async function main(): Promise<void> {
  const image = await ensurePrerequisites();
  const python = ensurePythonForTests();
  ensureBrowserForTests();
  if (process.env.SKIP_LINT !== '1') lint();
  const jestArgs = process.argv.slice(2);
  const r = spawnSync(process.execPath, [JEST, ...jestArgs], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, SANDBOX_IMAGE: image, CIBOX_PYTHON: python },
  });
  if (r.status !== 0 || jestArgs.length > 0) process.exit(r.status ?? 1);
  process.exit(unitSuiteOnNode22());
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
