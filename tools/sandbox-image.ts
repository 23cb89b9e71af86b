/**
 * Builds (or finds) the cibox sandbox image without any container registry.
 *
 *   npx tsx tools/sandbox-image.ts          # ensure image, print its tag
 *   CIBOX_SANDBOX_REBUILD=1 npx tsx tools/sandbox-image.ts   # force a rebuild
 *
 * Offline recipe: debootstrap a bookworm minbase rootfs with the packages from
 * libs/sandbox/image/packages.txt, run libs/sandbox/image/configure-rootfs.sh
 * inside it (same script the Dockerfile runs), then `docker import` it.
 *
 * Env:
 *   CIBOX_APT_MIRROR        Debian mirror (default http://deb.debian.org/debian)
 *   CIBOX_BUILD_TMPDIR      parent dir for the temporary rootfs (default: /dev/shm when it
 *                           is a tmpfs without noexec/nodev and has >= 6 GiB free -- dpkg's
 *                           fsyncs make an ext4 build ~2x slower -- else /var/tmp)
 *   CIBOX_SANDBOX_REBUILD=1 rebuild even if the tagged image exists
 *
 * Only node built-ins are used.
 */
import { spawn, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export const SANDBOX_IMAGE_REPO = 'cibox-sandbox';
export const RECIPE_DIR = path.resolve(__dirname, '..', 'libs', 'sandbox', 'image');
export const SANDBOX_BASE_REPO = 'cibox-sandbox-base';
/** What the slow debootstrap layer is made of; the runner is a thin layer on top (seconds to rebuild). */
const BASE_RECIPE_FILES = ['configure-rootfs.sh'];
const BUILDER_SOURCE = path.resolve(__dirname, '..', 'tools', 'sandbox-image.ts');

export interface EnsureSandboxImageOptions {
  log?: (line: string) => void;
}

/** Debian package names from packages.txt (comments and blank lines skipped). */
export function readPackageList(): string[] {
  return fs
    .readFileSync(path.join(RECIPE_DIR, 'packages.txt'), 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l.length > 0);
}

function hashOf(parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const part of parts) h.update(part).update('\0');
  return h.digest('hex').slice(0, 12);
}

/** `cibox-sandbox-base:<hash of packages, rootfs configuration and this builder>`. */
export function sandboxBaseTag(): string {
  // The parsed package list, so that editing a comment in packages.txt rebuilds nothing.
  const files = BASE_RECIPE_FILES.flatMap((name) => [name, fs.readFileSync(path.join(RECIPE_DIR, name))]);
  return `${SANDBOX_BASE_REPO}:${hashOf([readPackageList().join('\n'), ...files, fs.readFileSync(BUILDER_SOURCE)])}`;
}

/** `cibox-sandbox:<hash of the base tag and the runner>`: the tag the workers run. */
export function sandboxImageTag(): string {
  return `${SANDBOX_IMAGE_REPO}:${hashOf([sandboxBaseTag(), fs.readFileSync(path.join(RECIPE_DIR, 'runner.py'))])}`;
}

/** /dev/shm if it is a roomy tmpfs that allows exec + device nodes, else /var/tmp. */
function defaultBuildParent(): string {
  try {
    const line = fs
      .readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[1] === '/dev/shm');
    const f = line?.split(' ');
    if (f && f[2] === 'tmpfs') {
      const opts = (f[3] ?? '').split(',');
      const st = fs.statfsSync('/dev/shm');
      const free = Number(st.bavail) * Number(st.bsize);
      if (!opts.includes('noexec') && !opts.includes('nodev') && !opts.includes('ro') && free >= 6 * 2 ** 30) {
        fs.accessSync('/dev/shm', fs.constants.W_OK);
        return '/dev/shm';
      }
    }
  } catch {
    /* fall through */
  }
  return '/var/tmp';
}

function imageExists(tag: string): boolean {
  const r = spawnSync('docker', ['image', 'inspect', '--format', '{{.Id}}', tag], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return r.status === 0;
}

/** Runs a command, streaming each output line through `onLine`; keeps a tail for errors. */
function run(
  cmd: string,
  args: string[],
  onLine: (line: string) => void,
  env?: NodeJS.ProcessEnv,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const tail: string[] = [];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    const feed = (stream: NodeJS.ReadableStream) => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).replace(/\r$/, '');
          buf = buf.slice(i + 1);
          tail.push(line);
          if (tail.length > 60) tail.shift();
          onLine(line);
        }
      });
      stream.on('end', () => {
        if (buf) {
          tail.push(buf);
          onLine(buf);
        }
      });
    };
    feed(child.stdout);
    feed(child.stderr);
    child.on('error', (err) => reject(new Error(`${cmd}: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `${cmd} ${args.slice(0, 3).join(' ')}... failed (exit ${code ?? signal}); last output:\n` +
              tail.join('\n'),
          ),
        );
    });
  });
}

function debootstrapLogTail(rootfs: string): string {
  try {
    const log = fs.readFileSync(path.join(rootfs, 'debootstrap', 'debootstrap.log'), 'utf8');
    return log.split('\n').slice(-40).join('\n');
  } catch {
    return '';
  }
}

/** Builds (or finds) the image the workers run: the base plus the runner, tagged by recipe hash. */
export async function ensureSandboxImage(opts: EnsureSandboxImageOptions = {}): Promise<string> {
  const log = opts.log ?? (() => undefined);
  const tag = sandboxImageTag();
  const latest = `${SANDBOX_IMAGE_REPO}:latest`;
  if (process.env.CIBOX_SANDBOX_REBUILD !== '1' && imageExists(tag)) return tag;
  const base = await ensureBaseImage(log);
  const context = fs.mkdtempSync(path.join(defaultBuildParent(), 'cibox-runner-'));
  try {
    fs.copyFileSync(path.join(RECIPE_DIR, 'runner.py'), path.join(context, 'runner.py'));
    fs.writeFileSync(
      path.join(context, 'Dockerfile'),
      `FROM ${base}\nCOPY runner.py /opt/cibox/runner.py\nUSER 1000\nWORKDIR /mnt/data\nCMD ["python3", "/opt/cibox/runner.py"]\n`,
    );
    log(`[sandbox-image] adding the runner layer: ${tag}`);
    await run('docker', ['build', '-q', '-t', tag, '-t', latest, context], (l) => log(`  ${l}`));
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
  return tag;
}

/** The slow part: debootstrap a bookworm root with the data stack and `docker import` it. */
async function ensureBaseImage(log: (line: string) => void): Promise<string> {
  const tag = sandboxBaseTag();
  if (process.env.CIBOX_SANDBOX_REBUILD !== '1' && imageExists(tag)) return tag;
  if (process.getuid && process.getuid() !== 0) {
    throw new Error(`building ${tag} needs root (debootstrap/chroot); run as root`);
  }
  for (const bin of ['debootstrap', 'chroot', 'tar', 'docker']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status !== 0) {
      throw new Error(`building ${tag} needs '${bin}' on PATH (apt-get install debootstrap)`);
    }
  }

  const t0 = Date.now();
  const secs = () => ((Date.now() - t0) / 1000).toFixed(1);
  const stage = (s: string) => log(`[sandbox-image +${secs()}s] ${s}`);
  const mirror = process.env.CIBOX_APT_MIRROR || 'http://deb.debian.org/debian';
  const parent = process.env.CIBOX_BUILD_TMPDIR || defaultBuildParent();
  const workdir = fs.mkdtempSync(path.join(parent, 'cibox-sandbox-'));
  const rootfs = path.join(workdir, 'rootfs');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DEBIAN_FRONTEND: 'noninteractive',
    DEBCONF_NONINTERACTIVE_SEEN: 'true',
    LC_ALL: 'C',
    LANGUAGE: 'C',
    LANG: 'C',
    PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${process.env.PATH ?? ''}`,
  };
  const packages = readPackageList();
  stage(`building ${tag} in ${workdir} (mirror ${mirror}, ${packages.length} packages)`);

  const timings: Record<string, number> = {};
  const timed = async (name: string, fn: () => Promise<void>) => {
    const s = Date.now();
    stage(`${name}...`);
    await fn();
    timings[name] = (Date.now() - s) / 1000;
    stage(`${name} done in ${timings[name].toFixed(1)}s`);
  };

  try {
    await timed('debootstrap', async () => {
      try {
        await run(
          'debootstrap',
          [
            '--variant=minbase',
            `--include=${packages.join(',')}`,
            '--components=main',
            'bookworm',
            rootfs,
            mirror,
          ],
          (l) => log(`  [+${secs()}s] ${l}`),
          env,
        );
      } catch (e) {
        const dlog = debootstrapLogTail(rootfs);
        throw new Error(
          `${(e as Error).message}${dlog ? `\n--- debootstrap.log (tail) ---\n${dlog}` : ''}`,
        );
      }
    });

    await timed('configure rootfs', async () => {
      fs.mkdirSync(path.join(rootfs, 'opt', 'cibox'), { recursive: true });
      fs.copyFileSync(
        path.join(RECIPE_DIR, 'configure-rootfs.sh'),
        path.join(rootfs, 'tmp/configure-rootfs.sh'),
      );
      await run(
        'chroot',
        [rootfs, '/usr/bin/env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root',
          'DEBIAN_FRONTEND=noninteractive', 'LANG=C.UTF-8', '/bin/sh', '/tmp/configure-rootfs.sh'],
        (l) => log(`  [+${secs()}s] ${l}`),
        env,
      );
      // The host's resolv.conf/hostname leak in via debootstrap; docker manages these.
      for (const f of ['etc/resolv.conf', 'etc/hostname']) fs.rmSync(path.join(rootfs, f), { force: true });
    });

    await timed('docker import', async () => {
      const changes = [
        'ENV MPLBACKEND=Agg',
        'ENV HOME=/tmp',
        'ENV PYTHONDONTWRITEBYTECODE=1',
        'ENV PYTHONUNBUFFERED=1',
        'ENV MPLCONFIGDIR=/tmp/.config/matplotlib',
        'ENV CIBOX_MPL_CACHE=/opt/cibox/mplconfig',
        'ENV LANG=C.UTF-8',
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'USER 1000',
        'WORKDIR /mnt/data',
        'CMD ["python3", "/opt/cibox/runner.py"]',
        `LABEL org.opencontainers.image.title=cibox-sandbox`,
      ];
      const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      const script =
        `set -o pipefail; tar -C ${q(rootfs)} --numeric-owner --exclude=./proc/* --exclude=./sys/* ` +
        `--exclude=./dev/* --exclude=./debootstrap -c . | docker import ` +
        changes.map((c) => `--change ${q(c)}`).join(' ') +
        ` - ${q(tag)}`;
      await run('bash', ['-c', script], (l) => log(`  [+${secs()}s] ${l}`), env);
    });
  } finally {
    stage('removing temporary rootfs');
    fs.rmSync(workdir, { recursive: true, force: true });
  }

  const size = spawnSync('docker', ['image', 'inspect', '--format', '{{.Size}}', tag], {
    encoding: 'utf8',
  }).stdout.trim();
  stage(
    `built ${tag}; size ${(Number(size) / 1e6).toFixed(0)} MB; ` +
      Object.entries(timings)
        .map(([k, v]) => `${k} ${v.toFixed(1)}s`)
        .join(', '),
  );
  return tag;
}

if (require.main === module) {
  ensureSandboxImage({ log: (l) => process.stderr.write(`${l}\n`) })
    .then((tag) => {
      process.stdout.write(`${tag}\n`);
    })
    .catch((err: Error) => {
      process.stderr.write(`sandbox-image: ${err.message}\n`);
      process.exit(1);
    });
}

