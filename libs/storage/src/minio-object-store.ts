import { Client, CopyConditions } from 'minio';
import type { Readable } from 'node:stream';
import type { ObjectStore } from './object-store';

/** Parts of unknown-length uploads are buffered; this bounds one upload's memory. */
const PART_BYTES = 8 * 1024 * 1024;

export interface S3Settings {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string;
}

/** ObjectStore on any S3-protocol server through the `minio` client. */
export class MinioObjectStore implements ObjectStore {
  private readonly client: Client;

  constructor(private readonly s3: S3Settings) {
    const url = new URL(s3.endpoint);
    this.client = new Client({
      endPoint: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      useSSL: url.protocol === 'https:',
      accessKey: s3.accessKey,
      secretKey: s3.secretKey,
      region: s3.region,
      pathStyle: true,
    });
  }

  async ensureBucket(): Promise<void> {
    if (!(await this.client.bucketExists(this.s3.bucket))) {
      await this.client.makeBucket(this.s3.bucket, this.s3.region).catch(async (err: unknown) => {
        if (!(await this.client.bucketExists(this.s3.bucket))) throw err;
      });
    }
  }

  async put(key: string, body: Readable | Buffer, size?: number): Promise<void> {
    if (Buffer.isBuffer(body) || size !== undefined) {
      await this.client.putObject(this.s3.bucket, key, body, size);
      return;
    }
    await this.putStream(key, body);
  }

  /**
   * A stream of unknown length: one PUT if it fits in a part, else a multipart upload driven here,
   * holding at most one part in memory. (minio's own unknown-size path first lists incomplete
   * uploads, which some S3 servers, the embedded one among them, do not implement.)
   */
  private async putStream(key: string, body: Readable): Promise<void> {
    let uploadId: string | null = null;
    const etags: { part: number; etag: string }[] = [];
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flushPart = async () => {
      const part = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      uploadId ??= await this.client.initiateNewMultipartUpload(this.s3.bucket, key, {});
      const partNumber = etags.length + 1;
      const { etag } = await this.client.uploadPart(
        { bucketName: this.s3.bucket, objectName: key, uploadID: uploadId, partNumber, headers: {} },
        part,
      );
      etags.push({ part: partNumber, etag });
    };
    try {
      for await (const chunk of body) {
        const buf = chunk as Buffer;
        pending.push(buf);
        pendingBytes += buf.length;
        if (pendingBytes >= PART_BYTES) await flushPart();
      }
      if (uploadId === null) {
        await this.client.putObject(this.s3.bucket, key, Buffer.concat(pending, pendingBytes), pendingBytes);
        return;
      }
      if (pendingBytes > 0) await flushPart();
      await this.client.completeMultipartUpload(this.s3.bucket, key, uploadId, etags);
    } catch (err) {
      if (uploadId !== null) await this.client.abortMultipartUpload(this.s3.bucket, key, uploadId).catch(() => undefined);
      throw err;
    }
  }

  async get(key: string): Promise<{ stream: Readable; size: number }> {
    const stat = await this.client.statObject(this.s3.bucket, key);
    const stream = await this.client.getObject(this.s3.bucket, key);
    return { stream, size: stat.size };
  }

  getFrom(key: string, offset: number): Promise<Readable> {
    return offset === 0 ? this.client.getObject(this.s3.bucket, key) : this.client.getPartialObject(this.s3.bucket, key, offset);
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    await this.client.copyObject(this.s3.bucket, toKey, `/${this.s3.bucket}/${fromKey}`, new CopyConditions());
  }

  async remove(key: string): Promise<void> {
    await this.client.removeObject(this.s3.bucket, key);
  }

  async ping(): Promise<void> {
    if (!(await this.client.bucketExists(this.s3.bucket))) throw new Error(`bucket ${this.s3.bucket} does not exist`);
  }
}
