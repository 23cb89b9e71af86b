import { Readable } from 'node:stream';
import type { AppConfig } from '@cibox/config';
import type { ContainerFileRecord, ContainerFileRepository, ContainerRecord, ObjectStore } from '@cibox/storage';
import { FileSync, isDataPath } from './file-sync.service';
import type { LiveSandbox } from './sandbox-pool.service';

/** A sandbox whose files are given, or whose runner streams `endless` without stopping. */
function fakeSandbox(files: Record<string, Buffer>, endless = new Set<string>()) {
  const open = new Set<Readable>();
  const aborted: string[] = [];
  const session = {
    getFile(path: string): Readable {
      if (endless.has(path)) {
        const r = new Readable({ read() { this.push(Buffer.alloc(100, 7)); } });
        open.add(r);
        return r;
      }
      return Readable.from([files[path]!]);
    },
    abort(message: string) {
      aborted.push(message);
      for (const r of open) r.destroy(new Error(message));
    },
  };
  const live = { containerId: 'cntr_1', sandbox: { session }, files: new Map(), syncedVersion: null } as unknown as LiveSandbox;
  return { live, aborted };
}

function fakes() {
  const objects = new Map<string, Buffer>();
  const store = {
    async put(key: string, body: Readable | Buffer) {
      const chunks: Buffer[] = [];
      if (Buffer.isBuffer(body)) chunks.push(body);
      else for await (const c of body) chunks.push(c as Buffer);
      objects.set(key, Buffer.concat(chunks));
    },
    remove(key: string) {
      objects.delete(key);
      return Promise.resolve();
    },
  } as unknown as ObjectStore;
  const records: ContainerFileRecord[] = [];
  const repo = {
    upsertByPath(r: ContainerFileRecord) {
      records.push(r);
      return Promise.resolve(null);
    },
    getByPath: () => Promise.resolve(null),
  } as unknown as ContainerFileRepository;
  const config = { sandbox: { diskBytes: 1000 } } as AppConfig;
  const container = { id: 'cntr_1', tenant: 't1' } as ContainerRecord;
  return { sync: new FileSync(store, repo, config), objects, records, container };
}

describe('FileSync.pullFromSandbox (what the sandbox reports is untrusted)', () => {
  it('uploads and registers changed files with their sizes', async () => {
    const { sync, objects, records, container } = fakes();
    const { live, aborted } = fakeSandbox({ '/mnt/data/a.csv': Buffer.from('x,y\n1,2\n'), '/mnt/data/sub/b.bin': Buffer.alloc(300, 1) });
    const out = await sync.pullFromSandbox(live, container, [{ path: '/mnt/data/a.csv' }, { path: '/mnt/data/sub/b.bin' }], []);
    expect(out.map((r) => [r.path, r.bytes, r.source])).toEqual([
      ['/mnt/data/a.csv', 8, 'assistant'],
      ['/mnt/data/sub/b.bin', 300, 'assistant'],
    ]);
    expect([...objects.values()].map((b) => b.length)).toEqual([8, 300]);
    expect(records).toHaveLength(2);
    expect(aborted).toEqual([]);
  });

  it('ignores reported paths outside /mnt/data', async () => {
    const { sync, objects, container } = fakes();
    const { live } = fakeSandbox({});
    const out = await sync.pullFromSandbox(live, container, [{ path: '/etc/passwd' }, { path: '/mnt/data/../etc/shadow' }, { path: '/mnt/data/x\0y' }], []);
    expect(out).toEqual([]);
    expect(objects.size).toBe(0);
  });

  it('cuts off a runner that streams more than /mnt/data can hold, keeps none of it, and ends the session', async () => {
    const { sync, objects, records, container } = fakes();
    const { live, aborted } = fakeSandbox({ '/mnt/data/ok.txt': Buffer.alloc(10) }, new Set(['/mnt/data/endless']));
    const out = await sync.pullFromSandbox(live, container, [{ path: '/mnt/data/ok.txt' }, { path: '/mnt/data/endless' }], []);
    expect(out.map((r) => r.path)).toEqual(['/mnt/data/ok.txt']);
    expect(records.map((r) => r.path)).toEqual(['/mnt/data/ok.txt']);
    expect([...objects.values()].map((b) => b.length)).toEqual([10]);
    expect(aborted).toHaveLength(1);
    expect(aborted[0]).toMatch(/more file bytes than \/mnt\/data can hold/);
  });
});

describe('isDataPath', () => {
  it.each([
    ['/mnt/data/a.txt', true],
    ['/mnt/data/dir/b.txt', true],
    ['/mnt/data', false],
    ['/mnt/datax/a', false],
    ['/mnt/data/../x', false],
    ['/mnt/data/./x', false],
    ['/mnt/data/a\0b', false],
    ['relative/a', false],
  ])('%s -> %s', (path, ok) => expect(isDataPath(path)).toBe(ok));
});
