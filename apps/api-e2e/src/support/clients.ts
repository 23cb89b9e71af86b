import OpenAI from 'openai';

export const baseUrl = () => process.env.CIBOX_BASE_URL!;

/** The official SDK pointed at our stack, as tenant A or B; no retries, so failures show. */
export function client(tenant: 'a' | 'b' = 'a'): OpenAI {
  const apiKey = tenant === 'a' ? process.env.CIBOX_KEY_A! : process.env.CIBOX_KEY_B!;
  return new OpenAI({ apiKey, baseURL: `${baseUrl()}/v1`, maxRetries: 0, timeout: 120_000 });
}

/** Raw HTTP for our extensions and for malformed input the SDK would never send. */
export async function raw(
  method: string,
  path: string,
  init: { body?: unknown; headers?: Record<string, string>; key?: string | null; baseUrl?: string } = {},
) {
  const headers: Record<string, string> = { ...init.headers };
  const key = init.key === undefined ? process.env.CIBOX_KEY_A! : init.key;
  if (key) headers.authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (typeof init.body === 'string') {
    body = init.body;
    headers['content-type'] ??= 'application/json';
  } else if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${init.baseUrl ?? baseUrl()}${path}`, { method, headers, body });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, text, json: json as any };
}

/** Asserts OpenAI's error envelope, and the offending field when given. */
export function expectOpenAIError(json: any, param?: string | null) {
  expect(Object.keys(json ?? {})).toEqual(['error']);
  expect(typeof json.error.message).toBe('string');
  expect(typeof json.error.type).toBe('string');
  expect(json.error).toHaveProperty('param');
  expect(json.error).toHaveProperty('code');
  if (param !== undefined) expect(json.error.param).toBe(param);
}

/** Moves a container's idle clock back by `seconds`, as if it had not been used for that long. */
export async function ageContainer(containerId: string, seconds: number): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(process.env.CIBOX_REDIS_URL!);
  try {
    const key = `cibox:container:${containerId}`;
    const record = JSON.parse((await redis.get(key))!);
    record.last_active_at -= seconds;
    await redis.set(key, JSON.stringify(record));
  } finally {
    await redis.quit();
  }
}

/** Every object key under `prefix` in a stack's S3 bucket (the embedded server's defaults; the suite's stack unless `s3Endpoint`). */
export async function storedObjectKeys(opts: { s3Endpoint?: string; prefix?: string } = {}): Promise<string[]> {
  const { Client } = await import('minio');
  const url = new URL(opts.s3Endpoint ?? process.env.CIBOX_S3_ENDPOINT!);
  const s3 = new Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: 'S3RVER', secretKey: 'S3RVER', region: 'us-east-1' });
  const keys: string[] = [];
  // ListObjects v1: the embedded server answers v2's second page (past 1,000 keys) with a 500.
  for await (const item of s3.listObjects('cibox', opts.prefix ?? '', true) as AsyncIterable<{ name?: string }>) if (item.name) keys.push(item.name);
  return keys.sort();
}
