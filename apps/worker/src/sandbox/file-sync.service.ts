import { Inject, Injectable } from '@nestjs/common';
import { Readable } from 'node:stream';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { CONTAINER_DATA_DIR, newId, nowSeconds } from '@cibox/contracts';
import {
  ContainerFileRepository,
  OBJECT_STORE,
  objectKeys,
  type ContainerFileRecord,
  type ContainerRecord,
  type ObjectStore,
} from '@cibox/storage';
import { EXECUTION_LIMITS } from '@cibox/queue';
import type { LiveSandbox } from './sandbox-pool.service';

/**
 * Files moved between a sandbox and S3 at once, so the round trips to the runner, S3 and Redis
 * overlap (the runner answers pipelined file requests in order). One by one, 5,000 small files took
 * about 30 s against the embedded S3 server; at 16, S3's own throughput is what is left.
 */
const SYNC_CONCURRENCY = 16;
/** Time for one batch of changed files to reach S3 (up to /mnt/data's whole cap). */
const FILE_SYNC_TIMEOUT_MS = EXECUTION_LIMITS.fileSyncMs;

/** A blob the sandbox produced, stored under `key`, to be registered at `path`. */
type StoredFile = { id: string; path: string; bytes: number; key: string };

export interface PullResult {
  saved: ContainerFileRecord[];
  /** Lines for the execution's stderr: files not saved with this result, and why. */
  notes: string[];
}

/** `fn` over `items`, at most `limit` at a time; the results in the order of `items`. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

/** Up to five paths, then how many more. */
function listed(paths: string[]): string {
  const shown = paths.slice(0, 5).join(', ');
  return paths.length > 5 ? `${shown} and ${paths.length - 5} more` : shown;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Only plain paths directly or deeper under /mnt/data; anything else is never touched. */
export function isDataPath(path: string): boolean {
  return path.startsWith(`${CONTAINER_DATA_DIR}/`) && !path.split('/').some((seg) => seg === '..' || seg === '.') && !path.includes('\0');
}

/**
 * Keeps a sandbox's /mnt/data and the container's files in S3 in step: S3 is the truth, the
 * sandbox a cache. Paths come from our own records or from the runner's reports, and every file
 * operation happens inside the sandbox, so no user-made symlink is ever followed on the host.
 */
@Injectable()
export class FileSync {
  constructor(
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    private readonly containerFiles: ContainerFileRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  filesVersion(containerId: string): Promise<string> {
    return this.containerFiles.version(containerId);
  }

  /**
   * Writes files added or replaced through the API into the sandbox, and removes deleted ones.
   * `knownVersion`, read by the caller, saves a round trip when nothing changed since the last sync.
   */
  async pushToSandbox(live: LiveSandbox, knownVersion?: string): Promise<void> {
    const version = knownVersion ?? (await this.containerFiles.version(live.containerId));
    if (version === live.syncedVersion) return;
    const records = await this.containerFiles.all(live.containerId);
    const wanted = new Map(records.map((r) => [r.path, r]));
    for (const [path, fileId] of [...live.files]) {
      if (wanted.get(path)?.id === fileId) continue;
      if (!wanted.has(path)) {
        await live.sandbox.session.deleteFile(path);
        live.files.delete(path);
      }
    }
    for (const record of records) {
      if (live.files.get(record.path) === record.id || !isDataPath(record.path)) continue;
      const { stream } = await this.store.get(record.object_key);
      await live.sandbox.session.putFile(record.path, await readAll(stream));
      live.files.set(record.path, record.id);
    }
    live.syncedVersion = version;
  }

  /**
   * Saves what a cell changed under /mnt/data: files it wrote are uploaded and registered as the
   * assistant's, files it deleted are removed. At most `syncMaxFiles` written files are saved here,
   * so a cell that writes thousands of files still gets its result in bounded time; the rest wait in
   * `live.unsaved` for `saveUnsaved`, which runs right after the result is out.
   *
   * A change made through the API to the same path while the cell ran wins: each write is
   * committed only if the path still holds the file the sandbox had when the cell started
   * (`live.files`), so an upload that was answered 200 is never replaced by an older cell write;
   * the next sync writes the upload into the sandbox. `notes` says what was not saved, and why.
   */
  async pullFromSandbox(live: LiveSandbox, container: ContainerRecord, changed: { path: string }[], deleted: string[]): Promise<PullResult> {
    return this.watched(live, async () => {
      await mapLimit(deleted, SYNC_CONCURRENCY, (path) => this.removeDeleted(live, container, path));
      const paths = [...new Set([...live.unsaved, ...changed.map((c) => c.path)])].filter(isDataPath);
      const max = this.config.sandbox.syncMaxFiles;
      live.unsaved = paths.slice(max);
      const { saved, kept } = await this.saveChanged(live, container, paths.slice(0, max));
      const notes: string[] = [];
      if (kept.length > 0) notes.push(`[files: ${listed(kept.sort())} changed through the API while this cell ran; the API's version is kept and this cell's is not saved]\n`);
      if (live.unsaved.length > 0) {
        notes.push(
          `[files: this cell changed ${paths.length} files under /mnt/data; ${saved.length} are saved with this result (at most ${max} per execution), ` +
            `the other ${live.unsaved.length} are being saved now and are listed in the container's files before its next execution runs]\n`,
        );
      }
      return { saved, notes };
    });
  }

  /** Saves the files `pullFromSandbox` left in `live.unsaved`, a batch of `syncMaxFiles` at a time. */
  async saveUnsaved(live: LiveSandbox, container: ContainerRecord): Promise<ContainerFileRecord[]> {
    const saved: ContainerFileRecord[] = [];
    while (live.unsaved.length > 0 && live.sandbox.session.alive) {
      const batch = live.unsaved.splice(0, this.config.sandbox.syncMaxFiles);
      saved.push(...(await this.watched(live, () => this.saveChanged(live, container, batch))).saved);
    }
    return saved;
  }

  /**
   * Uploads and registers `paths`, several at a time (the runner answers file requests in order, so
   * they pipeline). The bytes come from the sandbox, so they are checked: together the files cannot
   * be larger than /mnt/data's cap, and a reader that claims more is cut off and nothing of it is kept.
   */
  private async saveChanged(live: LiveSandbox, container: ContainerRecord, paths: string[]): Promise<{ saved: ContainerFileRecord[]; kept: string[] }> {
    let budget = this.config.sandbox.diskBytes;
    const kept: string[] = [];
    const results = await mapLimit(paths, SYNC_CONCURRENCY, async (path) => {
      const id = newId('containerFile');
      const key = objectKeys.containerFile(container.tenant, container.id, id);
      let bytes = 0;
      const source = live.sandbox.session.getFile(path);
      source.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        budget -= chunk.length;
        if (budget < 0) live.sandbox.session.abort(`sent more file bytes than /mnt/data can hold (${this.config.sandbox.diskBytes})`);
      });
      try {
        await this.store.put(key, source);
      } catch {
        return null; // removed or replaced by a symlink before we read it: nothing to register
      }
      const record = await this.register(live, container, { id, path, bytes, key }, live.files.get(path) ?? null);
      if (record) return record;
      await this.store.remove(key).catch(() => undefined);
      kept.push(path);
      return null;
    });
    return { saved: results.filter((r): r is ContainerFileRecord => r !== null), kept };
  }

  /** Removes the file a cell deleted, unless the path was changed through the API since the cell started. */
  private async removeDeleted(live: LiveSandbox, container: ContainerRecord, path: string): Promise<void> {
    const had = live.files.get(path);
    live.files.delete(path);
    const record = had ? await this.containerFiles.get(container.tenant, container.id, had) : null;
    if (!record) return; // never saved, or already replaced or deleted through the API
    await this.containerFiles.remove(record);
    await this.store.remove(record.object_key).catch(() => undefined);
  }

  /** Runs a sync step under a watchdog: what the sandbox reports is untrusted, and one that stalls ends the session, like one that lies. */
  private async watched<T>(live: LiveSandbox, step: () => Promise<T>): Promise<T> {
    const watchdog = setTimeout(() => live.sandbox.session.abort(`did not hand over its files within ${FILE_SYNC_TIMEOUT_MS / 1000} s`), FILE_SYNC_TIMEOUT_MS);
    try {
      return await step();
    } finally {
      clearTimeout(watchdog);
    }
  }

  /** Stores bytes the kernel produced (a figure) as an assistant file. */
  async saveGenerated(live: LiveSandbox, container: ContainerRecord, path: string, data: Buffer): Promise<ContainerFileRecord> {
    const id = newId('containerFile');
    const key = objectKeys.containerFile(container.tenant, container.id, id);
    await this.store.put(key, data, data.length);
    return this.register(live, container, { id, path, bytes: data.length, key });
  }

  /**
   * Registers a file the sandbox made. With `expectedId` (the file the sandbox had at the path, or
   * null for none), only if the path still holds it; null when a newer write came first.
   */
  private async register(live: LiveSandbox, container: ContainerRecord, f: StoredFile): Promise<ContainerFileRecord>;
  private async register(live: LiveSandbox, container: ContainerRecord, f: StoredFile, expectedId: string | null): Promise<ContainerFileRecord | null>;
  private async register(live: LiveSandbox, container: ContainerRecord, f: StoredFile, expectedId?: string | null) {
    const record: ContainerFileRecord = {
      id: f.id,
      tenant: container.tenant,
      container_id: container.id,
      path: f.path,
      bytes: f.bytes,
      created_at: nowSeconds(),
      source: 'assistant',
      object_key: f.key,
    };
    const { applied, replaced } =
      expectedId === undefined ? { applied: true, replaced: await this.containerFiles.upsertByPath(record) } : await this.containerFiles.upsertByPathIf(record, expectedId);
    if (!applied) return null;
    if (replaced) await this.store.remove(replaced.object_key).catch(() => undefined);
    live.files.set(f.path, f.id);
    return record;
  }
}
