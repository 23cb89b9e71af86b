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
    alive: true,
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
  const live = { containerId: 'cntr_1', sandbox: { session }, files: new Map<string, string>(), syncedVersion: null, unsaved: [] } as unknown as LiveSandbox;
  return { live, aborted };
}

/** Container files by path, as the repository keeps them: a conditional write checks the path's current id. */
function fakes(syncMaxFiles = 1000) {
  const objects = new Map<string, Buffer>();
  let inFlight = 0;
  let maxInFlight = 0;
  const store = {
    async put(key: string, body: Readable | Buffer) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        const chunks: Buffer[] = [];
        if (Buffer.isBuffer(body)) chunks.push(body);
        else for await (const c of body) chunks.push(c as Buffer);
        await new Promise((r) => setTimeout(r, 1));
        objects.set(key, Buffer.concat(chunks));
      } finally {
        inFlight--;
      }
    },
    remove(key: string) {
      objects.delete(key);
      return Promise.resolve();
    },
  } as unknown as ObjectStore;
  const records: ContainerFileRecord[] = [];
  const byPath = new Map<string, ContainerFileRecord>();
  const upsert = (r: ContainerFileRecord) => {
    const replaced = byPath.get(r.path) ?? null;
    byPath.set(r.path, r);
    records.push(r);
    return replaced;
  };
  const repo = {
    upsertByPath: (r: ContainerFileRecord) => Promise.resolve(upsert(r)),
    upsertByPathIf(r: ContainerFileRecord, expectedId: string | null) {
      if ((byPath.get(r.path)?.id ?? null) !== expectedId) return Promise.resolve({ applied: false, replaced: null });
      return Promise.resolve({ applied: true, replaced: upsert(r) });
    },
    get: (_t: string, _c: string, id: string) => Promise.resolve([...byPath.values()].find((r) => r.id === id) ?? null),
    remove(r: ContainerFileRecord) {
      if (byPath.get(r.path)?.id === r.id) byPath.delete(r.path);
      return Promise.resolve();
    },
  } as unknown as ContainerFileRepository;
  const config = { sandbox: { diskBytes: 1000, syncMaxFiles } } as AppConfig;
  const container = { id: 'cntr_1', tenant: 't1' } as ContainerRecord;
  /** An upload through the API: the path now holds a file the sandbox has not seen. */
  const upload = (path: string, id: string) => {
    objects.set(`key-${id}`, Buffer.from('uploaded'));
    upsert({ id, path, object_key: `key-${id}`, source: 'user' } as ContainerFileRecord);
  };
  return { sync: new FileSync(store, repo, config), objects, records, byPath, container, upload, maxInFlight: () => maxInFlight };
}

describe('FileSync.pullFromSandbox (what the sandbox reports is untrusted)', () => {
  it('uploads and registers changed files with their sizes', async () => {
    const { sync, objects, records, container } = fakes();
    const { live, aborted } = fakeSandbox({ '/mnt/data/a.csv': Buffer.from('x,y\n1,2\n'), '/mnt/data/sub/b.bin': Buffer.alloc(300, 1) });
    const { saved: out } = await sync.pullFromSandbox(live, container, [{ path: '/mnt/data/a.csv' }, { path: '/mnt/data/sub/b.bin' }], []);
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
    const { saved: out } = await sync.pullFromSandbox(live, container, [{ path: '/etc/passwd' }, { path: '/mnt/data/../etc/shadow' }, { path: '/mnt/data/x\0y' }], []);
    expect(out).toEqual([]);
    expect(objects.size).toBe(0);
  });

  it('cuts off a runner that streams more than /mnt/data can hold, keeps none of it, and ends the session', async () => {
    const { sync, objects, records, container } = fakes();
    const { live, aborted } = fakeSandbox({ '/mnt/data/ok.txt': Buffer.alloc(10) }, new Set(['/mnt/data/endless']));
    const { saved: out } = await sync.pullFromSandbox(live, container, [{ path: '/mnt/data/ok.txt' }, { path: '/mnt/data/endless' }], []);
    expect(out.map((r) => r.path)).toEqual(['/mnt/data/ok.txt']);
    expect(records.map((r) => r.path)).toEqual(['/mnt/data/ok.txt']);
    expect([...objects.values()].map((b) => b.length)).toEqual([10]);
    expect(aborted).toHaveLength(1);
    expect(aborted[0]).toMatch(/more file bytes than \/mnt\/data can hold/);
  });
});

describe('FileSync: what wins when an upload and a cell write the same path', () => {
  const file = (path: string) => ({ [path]: Buffer.from('from the cell') });

  it("keeps an upload committed while the cell ran, drops the cell's version, and says so", async () => {
    const { sync, objects, byPath, container, upload } = fakes();
    const { live } = fakeSandbox(file('/mnt/data/x.txt'));
    live.files.set('/mnt/data/x.txt', 'cfile_before'); // what the sandbox had when the cell started
    upload('/mnt/data/x.txt', 'cfile_upload');
    const { saved, notes } = await sync.pullFromSandbox(live, container, [{ path: '/mnt/data/x.txt' }], []);
    expect(saved).toEqual([]);
    expect(byPath.get('/mnt/data/x.txt')?.id).toBe('cfile_upload');
    expect([...objects.values()].map(String)).toEqual(['uploaded']); // the cell's copy is not left in S3
    expect(notes.join('')).toMatch(/\/mnt\/data\/x\.txt changed through the API while this cell ran; the API's version is kept/);
    // The sandbox still holds the cell's bytes under a stale id, so the next sync writes the upload in.
    expect(live.files.get('/mnt/data/x.txt')).toBe('cfile_before');
  });

  it('keeps an upload to a new path the cell also created', async () => {
    const { sync, byPath, container, upload } = fakes();
    const { live } = fakeSandbox(file('/mnt/data/new.txt'));
    upload('/mnt/data/new.txt', 'cfile_upload');
    const { saved } = await sync.pullFromSandbox(live, container, [{ path: '/mnt/data/new.txt' }], []);
    expect(saved).toEqual([]);
    expect(byPath.get('/mnt/data/new.txt')?.id).toBe('cfile_upload');
  });

  it('saves the cell version over the file it started from', async () => {
    const { sync, byPath, container, upload } = fakes();
    const { live } = fakeSandbox(file('/mnt/data/x.txt'));
    upload('/mnt/data/x.txt', 'cfile_seen');
    live.files.set('/mnt/data/x.txt', 'cfile_seen'); // written into the sandbox before the cell
    const { saved, notes } = await sync.pullFromSandbox(live, container, [{ path: '/mnt/data/x.txt' }], []);
    expect(saved.map((r) => r.id)).toEqual([byPath.get('/mnt/data/x.txt')?.id]);
    expect(notes).toEqual([]);
  });

  it('a cell deleting a file removes only the version it had, not an upload made meanwhile', async () => {
    const { sync, byPath, container, upload } = fakes();
    const { live } = fakeSandbox({});
    upload('/mnt/data/gone.txt', 'cfile_old');
    upload('/mnt/data/kept.txt', 'cfile_old2');
    live.files.set('/mnt/data/gone.txt', 'cfile_old');
    live.files.set('/mnt/data/kept.txt', 'cfile_old2');
    upload('/mnt/data/kept.txt', 'cfile_new'); // replaced through the API while the cell ran
    await sync.pullFromSandbox(live, container, [], ['/mnt/data/gone.txt', '/mnt/data/kept.txt']);
    expect(byPath.has('/mnt/data/gone.txt')).toBe(false);
    expect(byPath.get('/mnt/data/kept.txt')?.id).toBe('cfile_new');
  });
});

describe('FileSync: a cell that writes many files', () => {
  const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`/mnt/data/f${String(i).padStart(3, '0')}`, Buffer.from(`${i}`)]));

  it('saves at most syncMaxFiles with the result, says how many wait, and saveUnsaved saves the rest', async () => {
    const { sync, byPath, container } = fakes(3);
    const files = many(8);
    const { live } = fakeSandbox(files);
    const { saved, notes } = await sync.pullFromSandbox(live, container, Object.keys(files).map((path) => ({ path })), []);
    expect(saved.map((r) => r.path)).toEqual(Object.keys(files).slice(0, 3));
    expect(live.unsaved).toEqual(Object.keys(files).slice(3));
    expect(notes.join('')).toMatch(/changed 8 files under \/mnt\/data; 3 are saved with this result \(at most 3 per execution\), the other 5 are being saved now/);
    const rest = await sync.saveUnsaved(live, container);
    expect(rest.map((r) => r.path)).toEqual(Object.keys(files).slice(3));
    expect(live.unsaved).toEqual([]);
    expect([...byPath.keys()].sort()).toEqual(Object.keys(files));
  });

  it('moves several files at once', async () => {
    const { sync, container, maxInFlight } = fakes();
    const files = many(40);
    const { live } = fakeSandbox(files);
    await sync.pullFromSandbox(live, container, Object.keys(files).map((path) => ({ path })), []);
    expect(maxInFlight()).toBeGreaterThan(1);
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
