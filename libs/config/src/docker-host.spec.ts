import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from './config';

describe('loadConfig: the Docker engine (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH)', () => {
  let home: string;
  let certs: string;

  beforeAll(() => {
    home = mkdtempSync(path.join(os.tmpdir(), 'cibox-home-'));
    certs = path.join(home, '.docker');
    mkdirSync(certs);
    for (const name of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(path.join(certs, name), 'PEM');
  });

  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('drives the local socket by default', () => {
    expect(loadConfig({}).docker).toEqual({ kind: 'unix', address: 'unix:///var/run/docker.sock', socketPath: '/var/run/docker.sock' });
  });

  it('reads a unix socket', () => {
    expect(loadConfig({ DOCKER_HOST: 'unix:///run/other/docker.sock' }).docker).toEqual({
      kind: 'unix',
      address: 'unix:///run/other/docker.sock',
      socketPath: '/run/other/docker.sock',
    });
  });

  it('reads a plain TCP engine, on the Docker CLI\'s plain port when none is given', () => {
    expect(loadConfig({ DOCKER_HOST: 'tcp://docker-2.internal' }).docker).toEqual({ kind: 'tcp', address: 'tcp://docker-2.internal:2375', host: 'docker-2.internal', port: 2375, tls: null });
  });

  it('reads a TLS engine with the certificates of DOCKER_CERT_PATH, on the TLS port when none is given', () => {
    for (const flag of ['1', 'true']) {
      expect(loadConfig({ DOCKER_HOST: 'tcp://10.0.0.7', DOCKER_TLS_VERIFY: flag, DOCKER_CERT_PATH: certs }).docker).toEqual({
        kind: 'tcp',
        address: 'tcp://10.0.0.7:2376',
        host: '10.0.0.7',
        port: 2376,
        tls: { ca: path.join(certs, 'ca.pem'), cert: path.join(certs, 'cert.pem'), key: path.join(certs, 'key.pem') },
      });
    }
  });

  it('treats DOCKER_TLS_VERIFY=0, false or empty as TLS off', () => {
    for (const flag of ['0', 'false', '']) expect(loadConfig({ DOCKER_HOST: 'tcp://h:2375', DOCKER_TLS_VERIFY: flag }).docker).toMatchObject({ tls: null });
  });

  it.each([
    ['a scheme the worker does not speak', { DOCKER_HOST: 'ssh://user@host' }, /DOCKER_HOST: must be unix:\/\/\/path\/to\/docker.sock or tcp:\/\/host:port, got "ssh:\/\/user@host"/],
    ['an address without a scheme', { DOCKER_HOST: 'docker-2:2376' }, /DOCKER_HOST: must be unix/],
    ['a relative socket path', { DOCKER_HOST: 'unix://docker.sock' }, /DOCKER_HOST: a unix socket needs an absolute path/],
    ['a port past 65535', { DOCKER_HOST: 'tcp://h:70000' }, /DOCKER_HOST: not a valid tcp:\/\/host:port address/],
    ['a path after the host', { DOCKER_HOST: 'tcp://h:2376/v1.41' }, /DOCKER_HOST: must be tcp:\/\/host:port, with no user, path or query/],
    ['a TLS flag that is not a boolean', { DOCKER_TLS_VERIFY: 'yes' }, /DOCKER_TLS_VERIFY/],
    ['TLS on a unix socket', { DOCKER_TLS_VERIFY: '1' }, /DOCKER_TLS_VERIFY: a unix socket has no TLS/],
    ['certificates without TLS', { DOCKER_HOST: 'tcp://h:2376', DOCKER_CERT_PATH: '/certs' }, /DOCKER_CERT_PATH: is set but DOCKER_TLS_VERIFY is not/],
    ['a certificate directory without the certificates', { DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/nonexistent' }, /DOCKER_CERT_PATH: cannot read \/nonexistent\/ca.pem \(ENOENT\)/],
  ])('names the variable for %s', (_name, env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('reads the certificates from ~/.docker when DOCKER_CERT_PATH is unset', () => {
    expect(loadConfig({ DOCKER_HOST: 'tcp://h', DOCKER_TLS_VERIFY: '1', HOME: home }).docker).toMatchObject({ tls: { ca: path.join(certs, 'ca.pem') } });
  });

  it('names the Docker CLI default directory when TLS is on and DOCKER_CERT_PATH unset', () => {
    const dir = path.join(home, 'elsewhere', '.docker');
    expect(() => loadConfig({ DOCKER_HOST: 'tcp://h', DOCKER_TLS_VERIFY: '1', HOME: path.dirname(dir) })).toThrow(`DOCKER_CERT_PATH (unset, so ${dir}): cannot read ${dir}/ca.pem (ENOENT), ${dir}/cert.pem (ENOENT), ${dir}/key.pem (ENOENT)`);
  });
});
