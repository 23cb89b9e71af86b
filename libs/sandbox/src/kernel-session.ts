import { Readable, type Writable } from 'node:stream';
import { isPng, kernelMessageSchema, type CellEvent, type KernelDone, type KernelMessage, type KernelRequest } from './kernel-protocol';

/** The runner's process ended (killed, out of memory, crashed) while something waited on it. */
export class KernelGoneError extends Error {
  constructor(message = 'the sandbox kernel exited') {
    super(message);
    this.name = 'KernelGoneError';
  }
}

/**
 * The sandbox broke the protocol. User code shares the runner's process, so it can write to the
 * protocol channel: whatever arrives there is untrusted input, and a message too large to be ours
 * ends the session rather than the worker's memory.
 */
export class KernelProtocolError extends KernelGoneError {
  constructor(message: string) {
    super(message);
    this.name = 'KernelProtocolError';
  }
}

/** The largest protocol line we accept: far above any real one (file chunks are ~1.4 MiB, figures a few MiB). */
export const MAX_PROTOCOL_LINE_BYTES = 32 * 1024 * 1024;

type ControlWaiter = {
  kind: 'put_file_done' | 'delete_file_done' | 'pong' | 'file_chunk';
  /** The file the request named: an answer about another file was not asked for. */
  path?: string;
  onMessage(msg: KernelMessage): boolean; // true when this waiter is finished
  onGone(err: Error): void;
};

const FILE_CHUNK_BYTES = 1024 * 1024;

/**
 * Client of one runner over its stdin/stdout. Cells run one at a time (the caller serializes them);
 * file requests are answered in order by the runner, so they wait in a FIFO.
 */
export class KernelSession {
  readonly ready: Promise<{ python: string; ipython: string }>;
  readonly closed: Promise<void>;
  private resolveReady!: (v: { python: string; ipython: string }) => void;
  private rejectReady!: (err: Error) => void;
  private cell: { id: string; onEvent(e: CellEvent): void; resolve(d: KernelDone): void; reject(e: Error): void } | null = null;
  private readonly control: ControlWaiter[] = [];
  private gone: Error | null = null;
  private isReady = false;
  private readonly failureListeners: ((err: Error) => void)[] = [];
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;

  constructor(
    private readonly input: Writable,
    output: Readable,
    private readonly maxLineBytes = MAX_PROTOCOL_LINE_BYTES,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => undefined);
    this.closed = new Promise((resolve) => {
      output.on('data', (chunk: Buffer) => this.onData(chunk));
      const end = () => {
        this.fail(new KernelGoneError());
        resolve();
      };
      output.once('end', end);
      output.once('close', end);
      output.once('error', end);
    });
    input.on('error', () => this.fail(new KernelGoneError()));
  }

  get alive(): boolean {
    return this.gone === null;
  }

  /** Why the session ended, once it has. */
  get failure(): Error | null {
    return this.gone;
  }

  /** Calls `listener` once when the session ends, with why (at once if it already has). */
  onFailure(listener: (err: Error) => void): void {
    if (this.gone) listener(this.gone);
    else this.failureListeners.push(listener);
  }

  /** Ends the session because the sandbox misbehaved: everything waiting on it fails with `message`. */
  abort(message: string): void {
    this.fail(new KernelProtocolError(message));
  }

  /** Runs a cell; `onEvent` sees its output as it happens. Rejects with KernelGoneError if the kernel dies. */
  exec(id: string, code: string, maxOutputBytes: number, onEvent: (e: CellEvent) => void): Promise<KernelDone> {
    if (this.gone) return Promise.reject(this.gone);
    if (this.cell) return Promise.reject(new Error('a cell is already running in this kernel'));
    return new Promise((resolve, reject) => {
      this.cell = { id, onEvent, resolve, reject };
      this.send({ type: 'exec', id, code, max_output_bytes: maxOutputBytes });
    });
  }

  /** Raises KeyboardInterrupt in the running cell. */
  interrupt(): void {
    if (!this.gone) this.send({ type: 'interrupt' });
  }

  ping(): Promise<void> {
    return this.request({ type: 'ping' }, 'pong', () => true).then(() => undefined);
  }

  /** Writes a file under /mnt/data in chunks, so no protocol line is larger than about 1.4 MiB. */
  async putFile(path: string, data: Buffer): Promise<void> {
    let offset = 0;
    do {
      const chunk = data.subarray(offset, offset + FILE_CHUNK_BYTES);
      const req: KernelRequest = { type: 'put_file', path, data: chunk.toString('base64'), append: offset > 0 };
      await this.request(req, 'put_file_done', (msg) => {
        if (msg.type === 'put_file_done' && msg.error) throw new Error(msg.error);
        return true;
      });
      offset += chunk.length;
    } while (offset < data.length);
  }

  deleteFile(path: string): Promise<void> {
    return this.request({ type: 'delete_file', path }, 'delete_file_done', (msg) => {
      if (msg.type === 'delete_file_done' && msg.error && !/FileNotFoundError/.test(msg.error)) throw new Error(msg.error);
      return true;
    }).then(() => undefined);
  }

  /** Reads a regular file under /mnt/data as a stream of its bytes. */
  getFile(path: string): Readable {
    const out = new Readable({ read() {} });
    this.request({ type: 'get_file', path }, 'file_chunk', (msg) => {
      if (msg.type !== 'file_chunk') return false;
      if (msg.error) throw new Error(msg.error);
      if (msg.data) out.push(Buffer.from(msg.data, 'base64'));
      if (msg.eof) out.push(null);
      return msg.eof === true;
    }).catch((err: Error) => out.destroy(err));
    return out;
  }

  private request(req: KernelRequest, kind: ControlWaiter['kind'], handle: (msg: KernelMessage) => boolean): Promise<void> {
    if (this.gone) return Promise.reject(this.gone);
    return new Promise((resolve, reject) => {
      this.control.push({
        kind,
        path: 'path' in req ? req.path : undefined,
        onMessage: (msg) => {
          try {
            if (!handle(msg)) return false;
            resolve();
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
          return true;
        },
        onGone: (err) => reject(err),
      });
      this.send(req);
    });
  }

  private send(req: KernelRequest): void {
    this.input.write(JSON.stringify(req) + '\n');
  }

  private onData(chunk: Buffer): void {
    try {
      this.readLines(chunk);
    } catch (err) {
      this.abort(`broke the protocol reader (${(err as Error).message})`);
    }
  }

  private readLines(chunk: Buffer): void {
    if (this.gone) return; // nothing more is read from a session that failed
    let start = 0;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, start)) {
      if (this.bufferedBytes + (i - start) > this.maxLineBytes) return this.violation();
      this.buffered.push(chunk.subarray(start, i));
      const line = Buffer.concat(this.buffered).toString('utf8');
      this.buffered = [];
      this.bufferedBytes = 0;
      start = i + 1;
      if (line.trim()) this.onLine(line);
      if (this.gone) return;
    }
    if (start < chunk.length) {
      this.bufferedBytes += chunk.length - start;
      if (this.bufferedBytes > this.maxLineBytes) return this.violation();
      this.buffered.push(chunk.subarray(start));
    }
  }

  private violation(): void {
    this.buffered = [];
    this.bufferedBytes = 0;
    this.fail(new KernelProtocolError(`sent a protocol message over ${this.maxLineBytes} bytes`));
  }

  /**
   * One line from the sandbox. Nothing here may throw out of the stream: whatever is wrong with a
   * line, including a throwing listener, ends this session as a protocol violation.
   */
  private onLine(line: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return this.abort(`sent a protocol line that is not JSON (${describe(line)})`);
    }
    const checked = kernelMessageSchema.safeParse(parsed);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      return this.abort(`sent a malformed protocol message (${issue ? `${issue.path.join('.') || 'message'}: ${issue.message}` : 'invalid'})`);
    }
    try {
      this.dispatch(checked.data);
    } catch (err) {
      this.abort(`sent a message that could not be handled (${(err as Error).message})`);
    }
  }

  private dispatch(msg: KernelMessage): void {
    switch (msg.type) {
      case 'ready':
        if (this.isReady) return this.abort('announced itself ready twice');
        this.isReady = true;
        this.resolveReady({ python: msg.python, ipython: msg.ipython });
        return;
      case 'stdout':
      case 'stderr':
      case 'result':
        // Output of an earlier cell (a background thread, between cells) is not this cell's.
        if (this.cell && (msg.id === this.cell.id || msg.id === null)) this.cell.onEvent({ type: msg.type, text: msg.text });
        return;
      case 'image': {
        if (!this.cell || msg.id !== this.cell.id) return;
        const png = Buffer.from(msg.data, 'base64');
        if (!isPng(png)) return this.abort('sent a figure that is not a PNG image');
        this.cell.onEvent({ type: 'image', png });
        return;
      }
      case 'done': {
        const cell = this.cell;
        // Only the running cell can end; a `done` for any other is forged (or the runner is lost).
        if (!cell || msg.id !== cell.id) return this.abort('reported the end of an execution that was not running');
        this.cell = null;
        cell.resolve(msg);
        return;
      }
      case 'busy':
        return this.abort('reported an execution as finished while it was still running');
      case 'pong':
      case 'put_file_done':
      case 'delete_file_done':
      case 'file_chunk': {
        const head = this.control[0];
        if (!head || head.kind !== msg.type || ('path' in msg && head.path !== msg.path)) return this.abort(`answered a request that was not made (${msg.type})`);
        if (head.onMessage(msg)) this.control.shift();
        return;
      }
      case 'error':
        return this.abort(`reported a protocol error: ${msg.message.slice(0, 200)}`);
    }
  }

  private fail(err: Error): void {
    if (this.gone) return;
    this.gone = err;
    this.rejectReady(err);
    if (this.cell) {
      const cell = this.cell;
      this.cell = null;
      cell.reject(err);
    }
    for (const waiter of this.control.splice(0)) waiter.onGone(err);
    for (const listener of this.failureListeners.splice(0)) {
      try {
        listener(err);
      } catch {
        // a listener's failure is its own; the session has ended either way
      }
    }
  }
}

/** A short, printable excerpt of an offending line for error messages. */
function describe(line: string): string {
  const excerpt = JSON.stringify(line.slice(0, 40));
  return line.length > 40 ? `${excerpt}… ${line.length} characters` : excerpt;
}
