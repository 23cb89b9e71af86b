import type { Readable } from 'node:stream';

/** The blob store port: S3 in production (MinIO), the embedded S3 server in development and tests. */
export interface ObjectStore {
  /** Streams `body` to `key`; `size` may be unknown, then the upload is multipart. */
  put(key: string, body: Readable | Buffer, size?: number): Promise<void>;
  get(key: string): Promise<{ stream: Readable; size: number }>;
  /** Streams `key` from byte `offset` (within the object) to its end. */
  getFrom(key: string, offset: number): Promise<Readable>;
  copy(fromKey: string, toKey: string): Promise<void>;
  /** Removes `key`; a missing key is not an error. */
  remove(key: string): Promise<void>;
  /** Resolves when the store answers and the bucket exists. */
  ping(): Promise<void>;
}

export const objectKeys = {
  file: (tenant: string, fileId: string) => `t/${tenant}/files/${fileId}`,
  containerFile: (tenant: string, containerId: string, cfileId: string) => `t/${tenant}/containers/${containerId}/${cfileId}`,
};
