import { spawnSync } from 'node:child_process';

/** Whether `cmd` is on the PATH. */
export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Installs the Debian packages whose command is missing (apt-get, as root), e.g.
 * `{ chromium: 'chromium' }`; runs `apt-get update` only when the first install fails.
 */
export function ensureDebianPackages(packages: Record<string, string>, log: (line: string) => void = () => undefined): void {
  installDebianPackages(
    Object.entries(packages)
      .filter(([cmd]) => !hasCommand(cmd))
      .map(([, pkg]) => pkg),
    log,
  );
}

/** Installs Debian packages (apt-get, as root). */
export function installDebianPackages(missing: string[], log: (line: string) => void = () => undefined): void {
  if (missing.length === 0) return;
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = ['install', '-y', '--no-install-recommends', ...missing];
  if (spawnSync('apt-get', install, { stdio: 'inherit', env }).status === 0) return;
  for (const args of [['update'], install]) {
    const r = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed with status ${r.status}: installing ${missing.join(' ')} needs root and Debian's package index`);
  }
}
