import { PassThrough } from 'node:stream';
import { KernelGoneError, KernelProtocolError, KernelSession } from './kernel-session';

/** A fake runner on the far side of two pipes. */
function harness(maxLineBytes?: number) {
  const toKernel = new PassThrough();
  const fromKernel = new PassThrough();
  const session = new KernelSession(toKernel, fromKernel, maxLineBytes);
  const requests: any[] = [];
  let buffered = '';
  toKernel.on('data', (d: Buffer) => {
    buffered += d.toString();
    let i;
    while ((i = buffered.indexOf('\n')) >= 0) {
      requests.push(JSON.parse(buffered.slice(0, i)));
      buffered = buffered.slice(i + 1);
    }
  });
  const emit = (msg: object) => fromKernel.write(JSON.stringify(msg) + '\n');
  return { session, requests, emit, fromKernel };
}

const tick = () => new Promise((r) => setImmediate(r));

/** Bytes shaped like a PNG (signature, IHDR, filler, IEND): what isPng checks. */
function pngLike(filler = 0): Buffer {
  const ihdr = Buffer.concat([Buffer.from([0, 0, 0, 13]), Buffer.from('IHDR'), Buffer.alloc(13, 1), Buffer.alloc(4)]);
  const iend = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ihdr, Buffer.alloc(filler, 7), iend]);
}
const DONE = { status: 'ok', error: null, files: [], deleted: [], truncated: { stdout: false, stderr: false } };

describe('KernelSession', () => {
  it('resolves ready, runs a cell and relays its events in order', async () => {
    const { session, requests, emit } = harness();
    emit({ type: 'ready', python: '3.11', ipython: '8' });
    await expect(session.ready).resolves.toEqual({ python: '3.11', ipython: '8' });
    const events: any[] = [];
    const done = session.exec('e1', 'print(1)', 100, (e) => events.push(e));
    await tick();
    expect(requests[0]).toEqual({ type: 'exec', id: 'e1', code: 'print(1)', max_output_bytes: 100 });
    emit({ type: 'stdout', id: 'e1', text: '1\n' });
    emit({ type: 'stdout', id: 'other', text: 'not mine' });
    emit({ type: 'result', id: 'e1', text: '2' });
    emit({ type: 'done', id: 'e1', status: 'ok', error: null, files: [], deleted: [], truncated: { stdout: false, stderr: false } });
    await expect(done).resolves.toMatchObject({ status: 'ok' });
    expect(events.map((e) => e.type)).toEqual(['stdout', 'result']);
  });

  it('reassembles a protocol line split across many chunks', async () => {
    const { session, emit, fromKernel } = harness();
    emit({ type: 'ready', python: '3', ipython: '8' });
    const events: any[] = [];
    const done = session.exec('e2', 'x', 100, (e) => events.push(e));
    const png = pngLike(100_000);
    const line = JSON.stringify({ type: 'image', id: 'e2', format: 'png', data: png.toString('base64') }) + '\n';
    for (let i = 0; i < line.length; i += 777) fromKernel.write(line.slice(i, i + 777));
    emit({ type: 'done', id: 'e2', status: 'ok', error: null, files: [], deleted: [], truncated: { stdout: false, stderr: false } });
    await done;
    expect(events[0].png.equals(png)).toBe(true);
  });

  it('rejects a running cell and later calls with KernelGoneError when the kernel dies', async () => {
    const { session, emit, fromKernel } = harness();
    emit({ type: 'ready', python: '3', ipython: '8' });
    const done = session.exec('e3', 'x', 100, () => undefined);
    fromKernel.end();
    await expect(done).rejects.toBeInstanceOf(KernelGoneError);
    expect(session.alive).toBe(false);
    await expect(session.exec('e4', 'x', 1, () => undefined)).rejects.toBeInstanceOf(KernelGoneError);
  });

  it('writes files in chunks, appending after the first', async () => {
    const { session, requests, emit } = harness();
    const data = Buffer.alloc(2.5 * 1024 * 1024, 7);
    const put = session.putFile('/mnt/data/big.bin', data);
    for (let i = 0; i < 3; i++) {
      await tick();
      emit({ type: 'put_file_done', path: '/mnt/data/big.bin' });
    }
    await put;
    expect(requests.map((r) => r.append)).toEqual([false, true, true]);
    const total = requests.reduce((n, r) => n + Buffer.from(r.data, 'base64').length, 0);
    expect(total).toBe(data.length);
  });

  it('streams a file read back chunk by chunk, and fails it on a runner error', async () => {
    const { session, emit } = harness();
    const stream = session.getFile('/mnt/data/a');
    emit({ type: 'file_chunk', path: '/mnt/data/a', data: Buffer.from('hello ').toString('base64'), eof: false });
    emit({ type: 'file_chunk', path: '/mnt/data/a', data: Buffer.from('world').toString('base64'), eof: false });
    emit({ type: 'file_chunk', path: '/mnt/data/a', data: '', eof: true });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('hello world');

    const bad = session.getFile('/mnt/data/link');
    emit({ type: 'file_chunk', path: '/mnt/data/link', error: 'OSError: [Errno 40] Too many levels of symbolic links' });
    await expect((async () => { for await (const _ of bad) void _; })()).rejects.toThrow(/symbolic links/);
  });

  it('ends the session on an endless line instead of buffering it (user code can write to the channel)', async () => {
    const { session, emit, fromKernel } = harness(1024);
    emit({ type: 'ready', python: '3', ipython: '8' });
    const done = session.exec('e4', 'x', 100, () => undefined);
    for (let i = 0; i < 10; i++) fromKernel.write('x'.repeat(200)); // 2000 bytes, no newline
    await expect(done).rejects.toBeInstanceOf(KernelProtocolError);
    await expect(done).rejects.toThrow(/over 1024 bytes/);
    expect(session.alive).toBe(false);
    // Later data is ignored, not buffered, and does not revive anything.
    emit({ type: 'done', id: 'e4', status: 'ok', error: null, files: [], deleted: [], truncated: { stdout: false, stderr: false } });
    await expect(session.ping()).rejects.toBeInstanceOf(KernelGoneError);
  });

  it('accepts lines up to the limit, also when split across chunks', async () => {
    const { session, emit, fromKernel } = harness(2048);
    emit({ type: 'ready', python: '3', ipython: '8' });
    const events: any[] = [];
    const done = session.exec('e5', 'x', 100, (e) => events.push(e));
    const line = JSON.stringify({ type: 'stdout', id: 'e5', text: 'y'.repeat(1900) });
    expect(line.length).toBeLessThanOrEqual(2048);
    fromKernel.write(line.slice(0, 1000));
    fromKernel.write(line.slice(1000) + '\n');
    emit({ type: 'done', id: 'e5', status: 'ok', error: null, files: [], deleted: [], truncated: { stdout: false, stderr: false } });
    await expect(done).resolves.toMatchObject({ status: 'ok' });
    expect(events[0].text).toHaveLength(1900);
  });

  describe('treats every line from the sandbox as untrusted', () => {
    // Each is what user code can write to the protocol channel from inside a cell.
    const violations: [string, string | object, RegExp][] = [
      ['a JSON null', 'null', /malformed/],
      ['a stdout whose text is not a string', { type: 'stdout', id: null, text: 0 }, /malformed.*text/],
      ['a line that is not JSON', '{"type": "stdout", "id"', /not JSON/],
      ['an unknown message type', { type: 'launch_missiles' }, /malformed/],
      ['a done for an execution that is not running', { type: 'done', id: 'someone-else', ...DONE }, /not running/],
      ['a done with a negative file size', { type: 'done', id: 'cell', ...DONE, files: [{ path: '/mnt/data/a', size: -1 }] }, /malformed.*size/],
      ['a busy reply (the done we acted on was forged)', { type: 'busy', id: 'cell' }, /still running/],
      ['an answer nobody asked for', { type: 'pong' }, /not made/],
      ['a figure that is not a PNG', { type: 'image', id: 'cell', format: 'png', data: Buffer.from('GIF89a not a png at all').toString('base64') }, /not a PNG/],
      ['a figure that is not base64', { type: 'image', id: 'cell', format: 'png', data: '@@@@' }, /base64/],
      ['a second ready', { type: 'ready', python: '3', ipython: '8' }, /ready twice/],
      ['an oversized id', { type: 'result', id: 'x'.repeat(65), text: '1' }, /malformed/],
      ['an error report', { type: 'error', message: 'bad request' }, /protocol error/],
    ];
    it.each(violations)('%s ends the session as a protocol violation, and the running cell fails', async (_name, line, message) => {
      const { session, emit, fromKernel } = harness();
      emit({ type: 'ready', python: '3', ipython: '8' });
      const failures: Error[] = [];
      session.onFailure((err) => failures.push(err));
      const done = session.exec('cell', 'x', 100, () => undefined);
      if (typeof line === 'string') fromKernel.write(line + '\n');
      else emit(line);
      await expect(done).rejects.toBeInstanceOf(KernelProtocolError);
      await expect(done).rejects.toThrow(message);
      expect(session.alive).toBe(false);
      expect(failures).toHaveLength(1);
      await expect(session.ping()).rejects.toBeInstanceOf(KernelProtocolError);
    });

    it('a listener that throws ends the session, never the process reading the stream', async () => {
      const { session, emit } = harness();
      emit({ type: 'ready', python: '3', ipython: '8' });
      const done = session.exec('cell', 'x', 100, () => {
        throw new TypeError('listener bug');
      });
      emit({ type: 'stdout', id: 'cell', text: 'boom' });
      await expect(done).rejects.toThrow(/could not be handled \(listener bug\)/);
    });

    it('drops output of an earlier cell without ending the session', async () => {
      const { session, emit } = harness();
      emit({ type: 'ready', python: '3', ipython: '8' });
      const events: any[] = [];
      const done = session.exec('now', 'x', 100, (e) => events.push(e));
      emit({ type: 'stdout', id: 'before', text: 'late output of an earlier cell' });
      emit({ type: 'result', id: 'before', text: 'late' });
      emit({ type: 'stdout', id: 'now', text: 'mine' });
      emit({ type: 'done', id: 'now', ...DONE });
      await expect(done).resolves.toMatchObject({ id: 'now' });
      expect(events).toEqual([{ type: 'stdout', text: 'mine' }]);
      expect(session.alive).toBe(true);
    });

    it('fails a cell whose done arrives after a forged one, instead of mixing it into the next', async () => {
      const { session, emit } = harness();
      emit({ type: 'ready', python: '3', ipython: '8' });
      // User code forges `done` for its own cell; the session takes it (it cannot tell yet)...
      const first = session.exec('one', 'x', 100, () => undefined);
      emit({ type: 'done', id: 'one', ...DONE });
      await first;
      // ...then the real `done` of that cell lands while the next one is running.
      const second = session.exec('two', 'y', 100, () => undefined);
      emit({ type: 'done', id: 'one', ...DONE });
      await expect(second).rejects.toThrow(/not running/);
    });
  });
});
