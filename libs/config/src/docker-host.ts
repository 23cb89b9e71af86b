import { accessSync, constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The PEM files of a TLS connection to an engine: the CA that signed it, and our client certificate and key. */
export interface DockerTlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/**
 * The Docker engine a worker drives. `address` is the engine's DOCKER_HOST as the Docker CLI would
 * write it (with the port made explicit): what logs, metrics and health checks name the engine by.
 */
export type DockerEngineAddress =
  | { kind: 'unix'; address: string; socketPath: string }
  | { kind: 'tcp'; address: string; host: string; port: number; tls: DockerTlsFiles | null };

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

/** The variables the Docker CLI reads, which a worker reads the same way (except that `0` or `false` turns TLS off). */
export interface DockerEnv {
  DOCKER_HOST?: string;
  DOCKER_TLS_VERIFY?: string;
  DOCKER_CERT_PATH?: string;
  /** Where `~/.docker` is. */
  HOME?: string;
}

/**
 * Reads DOCKER_HOST (`unix:///path` or `tcp://host[:port]`), DOCKER_TLS_VERIFY and DOCKER_CERT_PATH
 * (default `~/.docker`, holding ca.pem, cert.pem and key.pem). Throws an Error whose lines each name
 * a bad variable.
 */
export function parseDockerEnv(env: DockerEnv): DockerEngineAddress {
  const problems: string[] = [];
  const tls = env.DOCKER_TLS_VERIFY === '1' || env.DOCKER_TLS_VERIFY === 'true';
  const host = env.DOCKER_HOST || DEFAULT_DOCKER_HOST;
  let engine: DockerEngineAddress | null = null;
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    if (!path.isAbsolute(socketPath)) problems.push(`DOCKER_HOST: a unix socket needs an absolute path (unix:///var/run/docker.sock), got "${host}"`);
    else if (tls) problems.push('DOCKER_TLS_VERIFY: a unix socket has no TLS; it applies to a tcp:// DOCKER_HOST');
    else engine = { kind: 'unix', address: host, socketPath };
  } else if (host.startsWith('tcp://')) {
    engine = parseTcp(host, tls, problems);
    if (engine?.kind === 'tcp' && tls) engine.tls = tlsFiles(env.DOCKER_CERT_PATH || path.join(env.HOME || os.homedir(), '.docker'), !env.DOCKER_CERT_PATH, problems);
  } else {
    problems.push(`DOCKER_HOST: must be unix:///path/to/docker.sock or tcp://host:port, got "${host}"`);
  }
  if (env.DOCKER_CERT_PATH && !tls) problems.push('DOCKER_CERT_PATH: is set but DOCKER_TLS_VERIFY is not; set DOCKER_TLS_VERIFY=1 to reach the engine over TLS');
  if (problems.length > 0 || !engine) throw new Error(problems.join('\n'));
  return engine;
}

function parseTcp(host: string, tls: boolean, problems: string[]): DockerEngineAddress | null {
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    problems.push(`DOCKER_HOST: not a valid tcp://host:port address, got "${host}"`);
    return null;
  }
  if (!url.hostname || url.username || url.password || (url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) {
    problems.push(`DOCKER_HOST: must be tcp://host:port, with no user, path or query, got "${host}"`);
    return null;
  }
  // The Docker CLI's default ports: 2376 is the TLS one, 2375 the plain one.
  const port = url.port ? Number(url.port) : tls ? 2376 : 2375;
  return { kind: 'tcp', address: `tcp://${url.hostname}:${port}`, host: url.hostname, port, tls: null };
}

function tlsFiles(dir: string, byDefault: boolean, problems: string[]): DockerTlsFiles {
  const files = { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
  const unreadable = Object.values(files).flatMap((file) => {
    try {
      accessSync(file, constants.R_OK);
      return [];
    } catch (err) {
      return [`${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`];
    }
  });
  if (unreadable.length > 0) problems.push(`DOCKER_CERT_PATH${byDefault ? ` (unset, so ${dir})` : ''}: cannot read ${unreadable.join(', ')}`);
  return files;
}
