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
    const line = JSON.stringify({ type: 'image', id: 'e2', format: 'png', data: 'A'.repeat(100_000) }) + '\n';
    for (let i = 0; i < line.length; i += 777) fromKernel.write(line.slice(i, i + 777));
    emit({ type: 'done', id: 'e2', status: 'ok', error: null, files: [], deleted: [], truncated: { stdout: false, stderr: false } });
    await done;
    expect(events[0].data).toHaveLength(100_000);
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
});
