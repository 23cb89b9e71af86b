import { KeyedMutex } from './container-lock';
import { OutputBuffer } from './output-buffer';
import { isDataPath } from './file-sync.service';

describe('OutputBuffer', () => {
  it('keeps text up to the limit, then one notice, then nothing', () => {
    const b = new OutputBuffer(10);
    expect(b.append('12345')).toBe('12345');
    expect(b.append('67890abc')).toMatch(/^67890\n\[output truncated: exceeded 10 bytes\]\n$/);
    expect(b.append('more')).toBe('');
    expect(b.truncated).toBe(true);
    expect(b.text.startsWith('1234567890')).toBe(true);
  });

  it('never splits a multi-byte character into garbage', () => {
    const b = new OutputBuffer(4);
    const kept = b.append('ééé');
    expect(kept.startsWith('éé')).toBe(true);
    expect(kept).not.toContain('\uFFFD');
  });
});

describe('KeyedMutex', () => {
  it('runs tasks of one key in order and of different keys concurrently', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const task = (name: string, ms: number) => () => new Promise<void>((r) => setTimeout(() => (log.push(name), r()), ms));
    await Promise.all([m.run('a', task('a1', 30)), m.run('a', task('a2', 1)), m.run('b', task('b1', 5))]);
    expect(log).toEqual(['b1', 'a1', 'a2']);
  });

  it('keeps going after a task fails', async () => {
    const m = new KeyedMutex();
    await expect(m.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(m.run('k', () => Promise.resolve('ok'))).resolves.toBe('ok');
  });
});

describe('isDataPath', () => {
  it.each(['/mnt/data/a.csv', '/mnt/data/sub/b.txt'])('accepts %s', (p) => expect(isDataPath(p)).toBe(true));
  it.each(['/etc/passwd', '/mnt/data/../etc/passwd', '/mnt/datax/a', '/mnt/data/./a', 'mnt/data/a', '/mnt/data/a\0b'])('refuses %j', (p) =>
    expect(isDataPath(p)).toBe(false),
  );
});
