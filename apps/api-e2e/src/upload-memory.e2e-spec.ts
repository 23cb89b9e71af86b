import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import OpenAI from 'openai';
import { eventually, freePort } from '@cibox/testing';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const GiB = 1024 * 1024 * 1024;

/** Peak resident memory of a process, in bytes (VmHWM), or current resident (VmRSS). */
function memoryOf(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(field))!;
  return Number(/(\d+)/.exec(line)![1]) * 1024;
}

/** Streams a multipart upload of `size` bytes without ever holding it in memory. */
function streamUpload(port: number, size: number): Promise<{ status: number; body: any }> {
  const boundary = 'cibox-boundary-7f3a';
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/files',
        headers: {
          authorization: `Bearer ${process.env.CIBOX_KEY_A}`,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': head.length + size + tail.length,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    const chunk = Buffer.alloc(1024 * 1024, 0xab);
    let sent = 0;
    req.write(head);
    const pump = () => {
      while (sent < size) {
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once('drain', pump);
      }
      req.end(tail);
    };
    pump();
  });
}

describe('streaming uploads', () => {
  let api: ChildProcess;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    api = spawn(process.execPath, ['-r', path.join(ROOT, 'tools/register-paths.cjs'), path.join(ROOT, 'dist/apps/api/src/main.js')], {
      env: {
        ...process.env,
        PORT: String(port),
        REDIS_URL: process.env.CIBOX_REDIS_URL,
        S3_ENDPOINT: process.env.CIBOX_S3_ENDPOINT,
        API_KEYS: process.env.CIBOX_KEY_A,
        MAX_UPLOAD_BYTES: String(2 * GiB),
        LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health`)).status < 500 || true, { timeoutMs: 30_000 });
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/v1/files?limit=1`, { headers: { authorization: `Bearer ${process.env.CIBOX_KEY_A}` } })).ok, {
      timeoutMs: 30_000,
    });
  });

  afterAll(() => {
    api?.kill('SIGTERM');
  });

  it('a 1 GiB upload grows the api by well under 100 MB and is stored whole', async () => {
    const baseline = memoryOf(api.pid!, 'VmRSS');
    const res = await streamUpload(port, GiB);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ object: 'file', bytes: GiB, filename: 'huge.bin' });
    const peakGrowth = memoryOf(api.pid!, 'VmHWM') - baseline;
    process.stdout.write(`1 GiB upload: api peak RSS growth ${(peakGrowth / 1e6).toFixed(1)} MB\n`);
    expect(peakGrowth).toBeLessThan(100 * 1024 * 1024);
    const sdk = new OpenAI({ apiKey: process.env.CIBOX_KEY_A, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
    expect((await sdk.files.retrieve(res.body.id)).bytes).toBe(GiB);
    await sdk.files.delete(res.body.id);
  }, 300_000);
});
