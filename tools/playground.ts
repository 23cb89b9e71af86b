/**
 * Builds the playground (apps/playground) into dist/playground, which the api serves at `/`:
 * type-checks it, then bundles it with Vite. Skipped when nothing it is built from changed since
 * the last build (a hash of its sources, the shared contracts it imports types from, and the lock
 * file), so `npm test` and `npm run up` pay for it once. `tsx tools/playground.ts --force` rebuilds.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
export const PLAYGROUND_DIST = path.join(ROOT, 'dist', 'playground');
const STAMP = path.join(PLAYGROUND_DIST, '.inputs-sha256');
const INPUTS = ['apps/playground', 'libs/contracts/src', 'package-lock.json', 'tsconfig.base.json'];

function filesUnder(rel: string): string[] {
  const full = path.join(ROOT, rel);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [rel];
  return readdirSync(full, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? filesUnder(path.join(rel, entry.name)) : [path.join(rel, entry.name)]))
    .sort();
}

/** A hash of every file the build reads, names included. */
export function playgroundInputsHash(): string {
  const hash = createHash('sha256');
  for (const file of INPUTS.flatMap(filesUnder)) hash.update(file).update('\0').update(readFileSync(path.join(ROOT, file))).update('\0');
  return hash.digest('hex');
}

function node(args: string[]): void {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`building the playground failed: node ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

/** Builds the playground unless dist/playground was built from the same inputs. Returns whether it built. */
export function ensurePlayground(opts: { force?: boolean; log?: (line: string) => void } = {}): boolean {
  const inputs = playgroundInputsHash();
  if (!opts.force && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === inputs && existsSync(path.join(PLAYGROUND_DIST, 'index.html'))) return false;
  const started = Date.now();
  opts.log?.('building the playground (tsc, then vite build)');
  node([path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'apps', 'playground', 'tsconfig.json')]);
  node([path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', path.join(ROOT, 'apps', 'playground', 'vite.config.mts')]);
  writeFileSync(STAMP, inputs);
  opts.log?.(`playground built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return true;
}

if (require.main === module) {
  ensurePlayground({ force: process.argv.includes('--force'), log: (line) => process.stdout.write(`[playground] ${line}\n`) });
}
