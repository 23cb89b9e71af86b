import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import {
  KernelSession,
  SANDBOX_LABEL,
  type EngineInfo,
  type KernelDone,
  type KernelRequest,
  type ManagedSandboxInfo,
  type Sandbox,
  type SandboxDriver,
  type SandboxSpec,
} from '@cibox/sandbox';

/** A running cell as the fake runner sees it: a test's script answers through it. */
export interface FakeCell {
  readonly id: string;
  readonly code: string;
  stdout(text: string): void;
  stderr(text: string): void;
  result(text: string): void;
  /** Ends the cell; with status ok, no error and no files unless told otherwise. */
  done(report?: Partial<Omit<KernelDone, 'type' | 'id'>>): void;
  /** Writes a raw line to the protocol channel, as user code can: an object is sent as JSON. */
  send(line: string | object): void;
}

/** What the fake runner does with an `exec`. A script that never calls `done` hangs the cell. */
export type ExecScript = (cell: FakeCell, sandbox: FakeSandbox) => void;

type Limits = { memoryBytes: number; cpuShares: number };

/**
 * A sandbox whose kernel is a real KernelSession talking, over two in-memory pipes, to a fake
 * runner that keeps /mnt/data in a map. Everything the session sent is kept in `requests`.
 */
export class FakeSandbox implements Sandbox {
  readonly session: KernelSession;
  /** /mnt/data: absolute path → content. */
  readonly files = new Map<string, Buffer>();
  readonly requests: KernelRequest[] = [];
  readonly updates: Limits[] = [];
  limits: Limits;
  /** When set, the next update() rejects with it (a container engine error). */
  updateError: Error | null = null;
  /** When false, an `interrupt` is ignored; when true, the running cell ends with KeyboardInterrupt. */
  interruptible = true;
  /** Unix seconds, as listManaged reports it; a test may age a sandbox by lowering it. */
  createdAt = Math.floor(Date.now() / 1000);
  private oomKilled = false;
  private running: string | null = null;
  private readonly toRunner = new PassThrough();
  private readonly fromRunner = new PassThrough();

  constructor(
    readonly id: string,
    readonly spec: SandboxSpec,
    private readonly driver: FakeSandboxDriver,
  ) {
    this.limits = { memoryBytes: spec.memoryBytes, cpuShares: spec.cpuShares };
    this.session = new KernelSession(this.toRunner, this.fromRunner);
    createInterface({ input: this.toRunner }).on('line', (line) => this.onRequest(JSON.parse(line) as KernelRequest));
    this.send({ type: 'ready', python: '3.11.0', ipython: '8.0.0' });
  }

  get removed(): boolean {
    return this.driver.removed.includes(this.id);
  }

  update(limits: Limits): Promise<void> {
    const err = this.updateError;
    this.updateError = null;
    if (err) return Promise.reject(err);
    this.updates.push(limits);
    this.limits = limits;
    return Promise.resolve();
  }

  wasOomKilled(): Promise<boolean> {
    return Promise.resolve(this.oomKilled);
  }

  remove(): Promise<void> {
    return this.driver.remove(this.id);
  }

  /** Ends the runner's process: the session sees its stream end. `oom` marks it killed by the memory limit. */
  kill(opts: { oom?: boolean } = {}): void {
    this.oomKilled ||= opts.oom === true;
    this.fromRunner.end();
  }

  /** Writes one line to the protocol channel (nothing once the runner is gone). */
  send(line: string | object): void {
    if (this.fromRunner.writableEnded) return;
    this.fromRunner.write((typeof line === 'string' ? line : JSON.stringify(line)) + '\n');
  }

  private onRequest(req: KernelRequest): void {
    this.requests.push(req);
    switch (req.type) {
      case 'exec':
        if (this.running) return this.send({ type: 'busy', id: req.id });
        this.running = req.id;
        return this.driver.onExec(this.cell(req.id, req.code), this);
      case 'interrupt':
        if (this.running && this.interruptible) {
          this.cell(this.running, '').done({ status: 'error', error: { name: 'KeyboardInterrupt', value: '', traceback: ['KeyboardInterrupt'] } });
        }
        return;
      case 'ping':
        return this.send({ type: 'pong' });
      case 'put_file': {
        const data = Buffer.from(req.data, 'base64');
        const before = req.append ? (this.files.get(req.path) ?? Buffer.alloc(0)) : Buffer.alloc(0);
        this.files.set(req.path, Buffer.concat([before, data]));
        return this.send({ type: 'put_file_done', path: req.path });
      }
      case 'get_file': {
        const data = this.files.get(req.path);
        if (!data) return this.send({ type: 'file_chunk', path: req.path, error: `FileNotFoundError: ${req.path}` });
        return this.send({ type: 'file_chunk', path: req.path, data: data.toString('base64'), eof: true });
      }
      case 'delete_file': {
        const existed = this.files.delete(req.path);
        return this.send({ type: 'delete_file_done', path: req.path, ...(existed ? {} : { error: `FileNotFoundError: ${req.path}` }) });
      }
    }
  }

  private cell(id: string, code: string): FakeCell {
    return {
      id,
      code,
      stdout: (text) => this.send({ type: 'stdout', id, text }),
      stderr: (text) => this.send({ type: 'stderr', id, text }),
      result: (text) => this.send({ type: 'result', id, text }),
      done: (report = {}) => {
        if (this.running === id) this.running = null;
        this.send({ type: 'done', id, status: 'ok', error: null, files: [], deleted: [], truncated: { stdout: false, stderr: false }, ...report });
      },
      send: (line) => this.send(line),
    };
  }
}

/**
 * An in-memory SandboxDriver for unit tests: sandboxes start at once (unless held), and every
 * create, update (on each FakeSandbox) and remove is recorded.
 */
export class FakeSandboxDriver implements SandboxDriver {
  /** What every sandbox's runner does with a cell; by default it ends at once with status ok. */
  onExec: ExecScript = (cell) => cell.done();
  /** Every create call, in order, including those that failed or are still held. */
  readonly createCalls: SandboxSpec[] = [];
  /** Every sandbox that finished starting. */
  readonly sandboxes: FakeSandbox[] = [];
  /** Ids of every remove call, in order (a repeated id is a repeated remove). */
  readonly removed: string[] = [];
  /** What checkEngine answers. */
  readonly engine: EngineInfo = { address: 'unix:///fake/docker.sock', id: 'FAKE:ENGINE', name: 'fake', version: '0.0.0', cpus: 2, memoryBytes: 8 * 1024 ** 3 };
  /** When set, checkEngine rejects with it (an engine that stopped answering, or lost the image). */
  engineError: Error | null = null;
  private readonly failures: Error[] = [];
  private hold: Promise<void> | null = null;
  private seq = 0;

  checkEngine(): Promise<EngineInfo> {
    return this.engineError ? Promise.reject(this.engineError) : Promise.resolve(this.engine);
  }

  /** Sandboxes started and not removed. */
  get running(): FakeSandbox[] {
    return this.sandboxes.filter((s) => !s.removed);
  }

  /** The next create call rejects with `err` (calls queue up in order). */
  failNextCreate(err = new Error('the container engine refused to create the sandbox')): void {
    this.failures.push(err);
  }

  /** Holds every create call made from now on until the returned function is called. */
  holdCreates(): () => void {
    let release!: () => void;
    this.hold = new Promise((resolve) => (release = resolve));
    return () => {
      this.hold = null;
      release();
    };
  }

  async create(spec: SandboxSpec): Promise<FakeSandbox> {
    this.createCalls.push(spec);
    const failure = this.failures.shift();
    await this.hold;
    if (failure) throw failure;
    const sandbox = new FakeSandbox(`fake-sandbox-${++this.seq}`, spec, this);
    this.sandboxes.push(sandbox);
    await sandbox.session.ready;
    return sandbox;
  }

  listManaged(): Promise<ManagedSandboxInfo[]> {
    return Promise.resolve(this.running.map((s) => ({ id: s.id, labels: { ...s.spec.labels, [SANDBOX_LABEL]: '1' }, createdAt: s.createdAt })));
  }

  remove(id: string): Promise<void> {
    this.removed.push(id);
    this.sandboxes.find((s) => s.id === id)?.kill();
    return Promise.resolve();
  }
}
