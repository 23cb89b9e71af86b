import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually } from './eventually';
import { DEFAULT_BACKOFF, launchProcess, restartDelay, type ManagedProcess } from './managed-process';
import { freePort } from './stack';

describe('restartDelay', () => {
  it('starts at 0.5 s, doubles per crash, and stops growing at 30 s', () => {
    const delays: number[] = [];
    let previous: number | undefined;
    for (let i = 0; i < 9; i++) delays.push((previous = restartDelay(DEFAULT_BACKOFF, 1_000, previous)));
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('starts over once a process stayed up for a minute', () => {
    expect(restartDelay(DEFAULT_BACKOFF, 59_000, 16_000)).toBe(30_000);
    expect(restartDelay(DEFAULT_BACKOFF, 60_000, 16_000)).toBe(500);
  });
});

describe('launchProcess', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cibox-managed-process-'));
  const backoff = { initialMs: 50, maxMs: 400, resetAfterMs: 60_000 };
  const launched: ManagedProcess[] = [];
  afterEach(async () => {
    await Promise.all(launched.splice(0).map((p) => p.stop('SIGKILL')));
  });

  const launch = (name: string, script: string, log?: (line: string) => void) => {
    const p = launchProcess({
      name,
      cmd: process.execPath,
      args: ['-e', script],
      cwd: dir,
      env: { PATH: process.env.PATH },
      logFile: path.join(dir, `${name}.log`),
      supervise: log ? { log, backoff } : undefined,
    });
    launched.push(p);
    return p;
  };
  const alive = (p: ManagedProcess) => p.child.exitCode === null && p.child.signalCode === null;

  it('restarts a server killed with SIGKILL, which then serves again, and says so', async () => {
    const port = await freePort();
    const lines: string[] = [];
    const server = launch('server', `require('http').createServer((q, s) => s.end(String(process.pid))).listen(${port}, '127.0.0.1')`, (l) => lines.push(l));
    const pid = Number(await eventually(() => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text())));
    expect(pid).toBe(server.child.pid);

    server.child.kill('SIGKILL');
    const newPid = Number(await eventually(() => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()), { timeoutMs: 5_000 }));
    expect(newPid).not.toBe(pid);
    expect(newPid).toBe(server.child.pid);
    expect(server.restarts).toBe(1);
    expect(lines[0]).toMatch(/^server exited \(signal SIGKILL\) after [\d.]+ m?s; restarting in 50 ms \(at \d\d:\d\d:\d\d\.\d{3} UTC\)$/);
    expect(lines[1]).toBe(`server restarted (pid ${newPid}, restart 1)`);
  });

  it('backs off exponentially while a process keeps crashing, and a stop cancels the pending restart', async () => {
    const lines: string[] = [];
    const crasher = launch('crasher', 'process.exit(3)', (l) => lines.push(l));
    await eventually(() => crasher.restarts >= 3, { timeoutMs: 5_000 });
    const delays = lines.filter((l) => l.includes('exited')).map((l) => /restarting in (\d+ ms)/.exec(l)![1]);
    expect(delays.slice(0, 3)).toEqual(['50 ms', '100 ms', '200 ms']);
    expect(lines[0]).toMatch(/^crasher exited \(code 3\)/);

    await eventually(() => !alive(crasher) && lines.at(-1)!.includes('exited'), { timeoutMs: 5_000 });
    const restarts = crasher.restarts;
    await crasher.stop();
    await new Promise((r) => setTimeout(r, 500)); // longer than the largest pending back-off (0.4 s)
    expect(crasher.restarts).toBe(restarts);
    expect(alive(crasher)).toBe(false);
  });

  it('without supervision an exit is final', async () => {
    const once = launch('once', 'process.exit(0)');
    await eventually(() => !alive(once));
    await new Promise((r) => setTimeout(r, 150));
    expect(once.restarts).toBe(0);
    expect(once.child.exitCode).toBe(0);
  });
});
