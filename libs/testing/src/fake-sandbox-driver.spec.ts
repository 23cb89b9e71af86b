import { KernelGoneError, KernelProtocolError, type CellEvent } from '@cibox/sandbox';
import { FakeSandboxDriver } from './fake-sandbox-driver';

const spec = { memoryBytes: 1024, cpuShares: 64, labels: { owner: 'test' } };

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('FakeSandboxDriver', () => {
  it('starts a ready sandbox whose cells end ok by default, and records the create', async () => {
    const driver = new FakeSandboxDriver();
    const sandbox = await driver.create(spec);
    await expect(sandbox.session.ready).resolves.toMatchObject({ python: expect.any(String) });
    await expect(sandbox.session.exec('e1', '1+1', 100, () => undefined)).resolves.toMatchObject({ id: 'e1', status: 'ok' });
    expect(driver.createCalls).toEqual([spec]);
    expect(sandbox.requests).toEqual([{ type: 'exec', id: 'e1', code: '1+1', max_output_bytes: 100 }]);
  });

  it('plays a scripted cell: events in order, then its done report', async () => {
    const driver = new FakeSandboxDriver();
    driver.onExec = (cell) => {
      cell.stdout('hi\n');
      cell.result('2');
      cell.done({ status: 'error', error: { name: 'ValueError', value: 'x', traceback: [] } });
    };
    const sandbox = await driver.create(spec);
    const events: CellEvent[] = [];
    const done = await sandbox.session.exec('e1', 'x', 100, (e) => events.push(e));
    expect(events).toEqual([{ type: 'stdout', text: 'hi\n' }, { type: 'result', text: '2' }]);
    expect(done).toMatchObject({ status: 'error', error: { name: 'ValueError' } });
  });

  it('keeps /mnt/data in memory: put (chunked), get, delete', async () => {
    const sandbox = await new FakeSandboxDriver().create(spec);
    const big = Buffer.alloc(1024 * 1024 + 10, 7);
    await sandbox.session.putFile('/mnt/data/a.bin', big);
    expect(sandbox.files.get('/mnt/data/a.bin')?.equals(big)).toBe(true);
    sandbox.files.set('/mnt/data/b.txt', Buffer.from('hello'));
    await expect(readAll(sandbox.session.getFile('/mnt/data/b.txt'))).resolves.toBe('hello');
    await expect(readAll(sandbox.session.getFile('/mnt/data/none'))).rejects.toThrow(/FileNotFoundError/);
    await sandbox.session.deleteFile('/mnt/data/b.txt');
    await sandbox.session.deleteFile('/mnt/data/b.txt'); // a missing file is not an error
    expect([...sandbox.files.keys()]).toEqual(['/mnt/data/a.bin']);
    await expect(sandbox.session.ping()).resolves.toBeUndefined();
  });

  it('ends a running cell with KeyboardInterrupt on interrupt, unless told to ignore it', async () => {
    const driver = new FakeSandboxDriver();
    driver.onExec = () => undefined; // hangs
    const sandbox = await driver.create(spec);
    const done = sandbox.session.exec('e1', 'while True: pass', 100, () => undefined);
    sandbox.session.interrupt();
    await expect(done).resolves.toMatchObject({ status: 'error', error: { name: 'KeyboardInterrupt' } });

    sandbox.interruptible = false;
    const hung = sandbox.session.exec('e2', 'while True: pass', 100, () => undefined);
    sandbox.session.interrupt();
    await sandbox.session.ping(); // the interrupt was read before the ping was answered
    sandbox.kill({ oom: true });
    await expect(hung).rejects.toBeInstanceOf(KernelGoneError);
    await expect(sandbox.wasOomKilled()).resolves.toBe(true);
  });

  it('lets a cell send garbage, which the real session takes as a protocol violation', async () => {
    const driver = new FakeSandboxDriver();
    driver.onExec = (cell) => cell.send('null');
    const sandbox = await driver.create(spec);
    await expect(sandbox.session.exec('e1', 'x', 100, () => undefined)).rejects.toBeInstanceOf(KernelProtocolError);
    expect(sandbox.session.alive).toBe(false);
  });

  it('fails and holds creates on request, and records removes', async () => {
    const driver = new FakeSandboxDriver();
    driver.failNextCreate(new Error('no space left'));
    await expect(driver.create(spec)).rejects.toThrow('no space left');

    const release = driver.holdCreates();
    let started = false;
    const creating = driver.create(spec).then((s) => ((started = true), s));
    await Promise.resolve();
    expect(started).toBe(false);
    release();
    const sandbox = await creating;
    expect(driver.createCalls).toHaveLength(2);
    await expect(driver.listManaged()).resolves.toEqual([expect.objectContaining({ id: sandbox.id, labels: expect.objectContaining({ owner: 'test' }) })]);

    await sandbox.remove();
    await sandbox.session.closed;
    expect(driver.removed).toEqual([sandbox.id]);
    expect(driver.running).toEqual([]);
    await expect(driver.listManaged()).resolves.toEqual([]);
  });
});
