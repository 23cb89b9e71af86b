import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The official Python SDK the e2e suite drives the api with: the version the machine's package index offers. */
export const OPENAI_PYTHON_VERSION = '3.22.1';

/**
 * A virtual environment under `<root>/.cache/python` holding `openai==OPENAI_PYTHON_VERSION`, made
 * once; returns its interpreter. Checking an existing one takes about a second; making it, about ten.
 */
export function ensurePythonClient(root: string, log: (line: string) => void = () => undefined): string {
  const venv = path.join(root, '.cache', 'python');
  const python = path.join(venv, 'bin', 'python');
  const ready = () =>
    existsSync(python) &&
    spawnSync(python, ['-c', `import openai, sys; sys.exit(openai.__version__ != ${JSON.stringify(OPENAI_PYTHON_VERSION)})`], { stdio: 'ignore' }).status === 0;
  if (ready()) return python;
  if (!existsSync(python)) {
    log(`creating a Python virtual environment in ${venv}`);
    run('python3', ['-m', 'venv', '--clear', venv], 'python3 with its venv module is needed (Debian: apt-get install python3 python3-venv)');
  }
  log(`installing openai==${OPENAI_PYTHON_VERSION} for Python`);
  // No retries: an index this machine cannot reach is skipped at once instead of after a minute of back-off.
  run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--retries', '0', `openai==${OPENAI_PYTHON_VERSION}`], 'pip could not install the openai package');
  if (!ready()) throw new Error(`${python} still cannot import openai ${OPENAI_PYTHON_VERSION} after installing it`);
  return python;
}

function run(cmd: string, args: string[], what: string): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${what}: \`${cmd} ${args.join(' ')}\` failed (${r.error?.message ?? `status ${r.status}`})\n${r.stderr ?? ''}`);
}
