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
import type { LiveSandbox } from './sandbox-pool.service';

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
   * Uploads files a cell created or changed and registers them as the assistant's. The list and
   * the bytes come from the sandbox, so they are checked: together the files cannot be larger than
   * /mnt/data's cap, and a reader that claims more is cut off and nothing of it is kept.
   */
  async pullFromSandbox(live: LiveSandbox, container: ContainerRecord, changed: { path: string }[], deleted: string[]): Promise<ContainerFileRecord[]> {
    const out: ContainerFileRecord[] = [];
    let budget = this.config.sandbox.diskBytes;
    for (const { path } of changed) {
      if (!isDataPath(path)) continue;
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
        continue; // removed or replaced by a symlink before we read it: nothing to register
      }
      out.push(await this.register(live, container, { id, path, bytes, key }));
    }
    for (const path of deleted) {
      const record = await this.containerFiles.getByPath(container.id, path);
      if (record) {
        await this.containerFiles.remove(record);
        await this.store.remove(record.object_key).catch(() => undefined);
      }
      live.files.delete(path);
    }
    return out;
  }

  /** Stores bytes the kernel produced (a figure) as an assistant file. */
  async saveGenerated(live: LiveSandbox, container: ContainerRecord, path: string, data: Buffer): Promise<ContainerFileRecord> {
    const id = newId('containerFile');
    const key = objectKeys.containerFile(container.tenant, container.id, id);
    await this.store.put(key, data, data.length);
    return this.register(live, container, { id, path, bytes: data.length, key });
  }

  private async register(live: LiveSandbox, container: ContainerRecord, f: { id: string; path: string; bytes: number; key: string }) {
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
    const replaced = await this.containerFiles.upsertByPath(record);
    if (replaced) await this.store.remove(replaced.object_key).catch(() => undefined);
    live.files.set(f.path, f.id);
    return record;
  }
}
