import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';

/** Restart policy of a supervised process: exponential back-off that starts over after a long enough run. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** A process that ran at least this long before crashing is restarted after `initialMs` again. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };

export interface Supervision {
  /** Receives one line per crash (which process, how it ended, when it restarts) and per restart. */
  log(line: string): void;
  backoff?: Partial<Backoff>;
}

/** The wait before restarting a process that crashed after `uptimeMs`; `previousMs` is the wait before its last restart. */
export function restartDelay(backoff: Backoff, uptimeMs: number, previousMs?: number): number {
  if (previousMs === undefined || uptimeMs >= backoff.resetAfterMs) return backoff.initialMs;
  return Math.min(previousMs * 2, backoff.maxMs);
}

export interface ManagedProcess {
  name: string;
  /** The running child; a supervised process gets a new one at each restart. */
  readonly child: ChildProcess;
  /** How many times supervision has restarted it. */
  readonly restarts: number;
  /** Where its output goes (across restarts). */
  readonly logFile: string;
  /** Ends it (SIGKILL after 10 s) and cancels any pending restart. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface LaunchSpec {
  name: string;
  cmd: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Output is appended here (across restarts). */
  logFile: string;
  /** Also print output to this process's stdout, prefixed with the name. */
  inheritOutput?: boolean;
  /** Restart the process when it exits on its own; without this an exit is final. */
  supervise?: Supervision;
  /** True once the owner is shutting down: an exit then is expected, not a crash. */
  shuttingDown?: () => boolean;
}

const duration = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${Number((ms / 1000).toFixed(1))} s`);

/** Starts a child process with its output in a log file, optionally restarting it when it crashes. */
export function launchProcess(spec: LaunchSpec): ManagedProcess {
  const log = createWriteStream(spec.logFile, { flags: 'a' });
  const backoff = { ...DEFAULT_BACKOFF, ...spec.supervise?.backoff };
  let child!: ChildProcess;
  let exited!: Promise<void>;
  let stopped = false;
  let restarts = 0;
  let delayMs: number | undefined;
  let restartTimer: NodeJS.Timeout | undefined;

  const start = () => {
    const startedAt = Date.now();
    child = spawn(spec.cmd, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.pipe(log, { end: false });
      if (spec.inheritOutput) stream?.on('data', (d: Buffer) => process.stdout.write(`[${spec.name}] ${d.toString()}`));
    }
    exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        resolve();
        const supervise = spec.supervise;
        if (!supervise || stopped || spec.shuttingDown?.()) return;
        const uptimeMs = Date.now() - startedAt;
        delayMs = restartDelay(backoff, uptimeMs, delayMs);
        const at = new Date(Date.now() + delayMs).toISOString().slice(11, 23);
        const how = signal ? `signal ${signal}` : `code ${code}`;
        supervise.log(`${spec.name} exited (${how}) after ${duration(uptimeMs)}; restarting in ${duration(delayMs)} (at ${at} UTC)`);
        restartTimer = setTimeout(() => {
          restartTimer = undefined;
          restarts += 1;
          start();
          supervise.log(`${spec.name} restarted (pid ${child.pid}, restart ${restarts})`);
        }, delayMs);
      }),
    );
  };
  start();

  return {
    name: spec.name,
    logFile: spec.logFile,
    get child() {
      return child;
    },
    get restarts() {
      return restarts;
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      stopped = true;
      clearTimeout(restartTimer);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      log.end();
    },
  };
}
