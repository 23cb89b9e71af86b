import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { isWebhookSecret } from '@cibox/webhooks';
import { parseDockerEnv, type DockerEngineAddress } from './docker-host';
import { readKeysFile, type TenantLimits } from './keys-file';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const url = (def: string) => z.string().url().default(def);

const BYTE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * A size in bytes, or with a binary unit as the memory tiers are written (`16g` is 16 GiB); null for
 * an empty value. Throws on anything else.
 */
export function parseBytes(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  const m = /^(\d+)\s*(?:([kmgt])(?:i?b)?|b)?$/i.exec(trimmed);
  const bytes = m ? Number(m[1]) * BYTE_UNITS[(m[2] ?? '').toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error('must be a positive size in bytes, or with a unit (k, m, g, t: 16g is 16 GiB)');
  return bytes;
}

const bytesOrNone = z
  .string()
  .optional()
  .transform((v, ctx) => {
    try {
      return parseBytes(v ?? '');
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
      return z.NEVER;
    }
  });

/** Every environment variable the api and worker read, with defaults. Parsed once at start. */
const envSchema = z.object({
  PORT: int(8080, 1).pipe(z.number().max(65535)),
  HOST: z.string().default('0.0.0.0'),
  REDIS_URL: url('redis://127.0.0.1:6379'),
  S3_ENDPOINT: url('http://127.0.0.1:9000'),
  S3_ACCESS_KEY: z.string().min(1).default('S3RVER'),
  S3_SECRET_KEY: z.string().min(1).default('S3RVER'),
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{2,62}$/, 'must be a valid S3 bucket name').default('cibox'),
  S3_REGION: z.string().default('us-east-1'),
  API_KEYS: z.string().optional(),
  API_KEYS_FILE: z.string().min(1).optional(),
  MAX_UPLOAD_BYTES: int(512 * 1024 * 1024, 1),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  WORKER_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).optional(),
  SANDBOX_IMAGE: z.string().default('cibox-sandbox:latest'),
  DOCKER_HOST: z.string().optional(),
  DOCKER_TLS_VERIFY: z.enum(['', '0', '1', 'false', 'true']).optional(),
  DOCKER_CERT_PATH: z.string().optional(),
  WARM_POOL_SIZE: int(2),
  WARM_POOL_MAX: int(8).optional(),
  SANDBOX_START_CONCURRENCY: int(2, 1),
  EXEC_TIMEOUT_DEFAULT_MS: int(60_000, 1),
  EXEC_TIMEOUT_MAX_MS: int(600_000, 1),
  EXEC_OUTPUT_MAX_BYTES: int(1024 * 1024, 1024),
  SANDBOX_DISK_BYTES: int(512 * 1024 * 1024, 1024 * 1024),
  SANDBOX_PIDS_LIMIT: int(256, 16),
  SANDBOX_CPUS: z.coerce.number().positive().default(1),
  SANDBOX_SYNC_MAX_FILES: int(1000, 1),
  WORKER_CONCURRENCY: int(32, 1),
  WORKER_MAX_CONTAINERS: int(128, 1),
  WORKER_MAX_MEMORY: bytesOrNone,
  REAPER_INTERVAL_MS: int(10_000, 100),
  QUEUE_LOCK_MS: int(30_000, 1000),
  WEBHOOK_URL: z
    .string()
    .url()
    .refine((u) => /^https?:\/\//i.test(u), 'must be an http or https URL')
    .optional(),
  WEBHOOK_SECRET: z.string().refine(isWebhookSecret, 'must be whsec_ followed by at least 16 bytes in base64').optional(),
  WEBHOOK_ALLOW_PRIVATE_TARGETS: z.enum(['true', 'false', '1', '0']).default('false'),
  WEBHOOK_MAX_ATTEMPTS: int(12, 1).pipe(z.number().max(50)),
  WEBHOOK_RETRY_BASE_MS: int(30_000, 10),
  WEBHOOK_TIMEOUT_MS: int(10_000, 100),
  WEBHOOK_CONCURRENCY: int(64, 1),
  MODEL_BASE_URL: z.string().url().optional(),
  MODEL_API_KEY: z.string().optional(),
  MODELS_FILE: z.string().min(1).optional(),
  MODEL_TIMEOUT_MS: int(120_000, 1000),
  MODEL_MAX_RETRIES: int(3),
  MAX_TOOL_CALLS: int(20, 1),
  SIGNING_SECRET: z.string().min(16).optional(),
  PUBLIC_BASE_URL: z.string().url().optional(),
  RESPONSE_TTL_S: int(30 * 24 * 3600, 60),
  BATCH_CONCURRENCY: int(16, 1),
  BATCH_COMPLETION_WINDOW_S: int(24 * 3600, 1),
  RESPONSES_CONCURRENCY: int(16, 1),
  METRICS_TOKEN: z.string().min(16).optional(),
  WORKER_METRICS_PORT: int(0).pipe(z.number().max(65535)),
  // Printable ASCII without spaces: it travels as a bearer token or a basic-auth password.
  ADMIN_KEY: z.string().regex(/^[\x21-\x7e]{16,}$/, 'must be at least 16 printable ASCII characters, without spaces').optional(),
});

export interface AppConfig {
  port: number;
  host: string;
  redisUrl: string;
  s3: { endpoint: string; accessKey: string; secretKey: string; bucket: string; region: string };
  /** Map from sha256(key) to tenant id. Empty when API_KEYS is unset: the api then generates a key. */
  apiKeyTenants: Map<string, string>;
  /** Limits of the tenants that `API_KEYS_FILE` names, and the file's defaults for every other key. */
  tenantLimits: { byTenant: Map<string, TenantLimits>; defaults: TenantLimits };
  maxUploadBytes: number;
  logLevel: string;
  workerId: string;
  /** The Docker engine a worker runs its sandboxes on. */
  docker: DockerEngineAddress;
  sandbox: {
    image: string;
    /** The warm pool's smallest size; it grows with demand up to `warmPoolMax`. */
    warmPoolSize: number;
    warmPoolMax: number;
    /** Sandboxes a worker starts at once (`docker run` to a ready kernel). */
    startConcurrency: number;
    timeoutDefaultMs: number;
    timeoutMaxMs: number;
    outputMaxBytes: number;
    diskBytes: number;
    pidsLimit: number;
    cpus: number;
    /** Changed files an execution saves before its result is out; the rest are saved right after it. */
    syncMaxFiles: number;
  };
  workerConcurrency: number;
  /** What one worker takes on: new containers are placed on the live worker with the most room left. */
  capacity: {
    maxContainers: number;
    /** Sum of the memory tiers of the worker's containers; null for no cap. */
    maxMemoryBytes: number | null;
  };
  reaperIntervalMs: number;
  /** How long a job stays claimed by a silent worker before another may take it (BullMQ lock and stall check). */
  queueLockMs: number;
  webhooks: {
    /** The operator's endpoint (`WEBHOOK_URL`), sent every tenant's events, trusted as configured. */
    operator: { url: string; secret: string } | null;
    /** Whether tenants' endpoints may be loopback, private or link-local addresses. */
    allowPrivateTargets: boolean;
    /** Attempts per event and endpoint, the first included. */
    maxAttempts: number;
    /** Delay before the first retry; each next one waits twice as long. */
    retryBaseMs: number;
    /** The longest one attempt may take, connection to response headers. */
    timeoutMs: number;
    /** Deliveries one api instance makes at once. */
    concurrency: number;
  };
  model: {
    /** The default OpenAI-compatible upstream (`MODEL_BASE_URL`, e.g. https://api.openai.com/v1). */
    baseUrl: string | null;
    apiKey: string | null;
    /** A JSON file routing model names to upstreams; see libs/model. */
    modelsFile: string | null;
    /** Time allowed between two chunks of the upstream's stream (and for its first byte). */
    timeoutMs: number;
    /** Retries of a call that failed before its first chunk (429, 5xx, connection errors). */
    maxRetries: number;
  };
  /** Ceiling on tool calls in one response, whatever `max_tool_calls` asks for. */
  maxToolCalls: number;
  /** Key of the signed, expiring links to container files (image URLs). Random per process when unset. */
  signingSecret: string;
  /** Origin that links are built on (e.g. https://cibox.example.com); else the request's own. */
  publicBaseUrl: string | null;
  /** How long stored responses are kept. */
  responseTtlS: number;
  batches: {
    /** Lines of one batch in flight at once (queued or running, across every api process); also the lines one api process runs at once. */
    concurrency: number;
    /** What the `24h` completion window lasts, in seconds: 86400, lowered in tests to see batches expire. */
    windowS: number;
  };
  /** Background responses one api instance runs at once. */
  responsesConcurrency: number;
  metrics: {
    /** Bearer token `GET /metrics` requires; null serves it to anyone who can reach the api. */
    token: string | null;
    /** Port of the worker's metrics server; 0 runs none. */
    workerPort: number;
  };
  /** Key that opens the queue dashboard (`/admin/queues`); null serves no dashboard at all. */
  adminKey: string | null;
}

export class ConfigError extends Error {}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Tenant id of an API key: stable, and reveals nothing about the key. */
export function tenantOf(key: string): string {
  return tenantOfHash(hashKey(key));
}

function tenantOfHash(hash: string): string {
  return 'tn_' + hash.slice(0, 24);
}

/** The limits that apply to a tenant: its own from the keys file, else the file's defaults. */
export function limitsOf(config: Pick<AppConfig, 'tenantLimits'>, tenant: string): TenantLimits {
  return config.tenantLimits.byTenant.get(tenant) ?? config.tenantLimits.defaults;
}

/** Parses the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (Boolean(e.WEBHOOK_URL) !== Boolean(e.WEBHOOK_SECRET)) {
    throw new ConfigError(`Invalid configuration:\n  ${e.WEBHOOK_URL ? 'WEBHOOK_SECRET: is required with WEBHOOK_URL' : 'WEBHOOK_URL: is required with WEBHOOK_SECRET'}`);
  }
  if (e.WARM_POOL_MAX !== undefined && e.WARM_POOL_MAX < e.WARM_POOL_SIZE) {
    throw new ConfigError(`Invalid configuration:\n  WARM_POOL_MAX: must be at least WARM_POOL_SIZE (${e.WARM_POOL_SIZE})`);
  }
  const keys = (e.API_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean);
  const apiKeyTenants = new Map(keys.map((k) => [hashKey(k), tenantOf(k)]));
  const tenantLimits = { byTenant: new Map<string, TenantLimits>(), defaults: {} as TenantLimits };
  if (e.API_KEYS_FILE) {
    let file;
    try {
      file = readKeysFile(e.API_KEYS_FILE);
    } catch (err) {
      throw new ConfigError(`Invalid configuration:\n  ${(err as Error).message}`);
    }
    tenantLimits.defaults = file.defaults ?? {};
    for (const entry of file.keys) {
      const hash = 'key' in entry ? hashKey(entry.key) : entry.key_sha256;
      const tenant = tenantOfHash(hash);
      apiKeyTenants.set(hash, tenant);
      tenantLimits.byTenant.set(tenant, { ...tenantLimits.defaults, ...entry.limits });
    }
  }
  let docker: DockerEngineAddress;
  try {
    docker = parseDockerEnv({ ...e, HOME: env.HOME });
  } catch (err) {
    throw new ConfigError(`Invalid configuration:\n${(err as Error).message.replace(/^/gm, '  ')}`);
  }
  if (e.ADMIN_KEY && apiKeyTenants.has(hashKey(e.ADMIN_KEY))) {
    throw new ConfigError("Invalid configuration:\n  ADMIN_KEY: must not be a tenant's API key");
  }
  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    s3: { endpoint: e.S3_ENDPOINT, accessKey: e.S3_ACCESS_KEY, secretKey: e.S3_SECRET_KEY, bucket: e.S3_BUCKET, region: e.S3_REGION },
    apiKeyTenants,
    tenantLimits,
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    logLevel: e.LOG_LEVEL,
    workerId: e.WORKER_ID ?? `w-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    docker,
    sandbox: {
      image: e.SANDBOX_IMAGE,
      warmPoolSize: e.WARM_POOL_SIZE,
      warmPoolMax: e.WARM_POOL_MAX ?? Math.max(8, e.WARM_POOL_SIZE),
      startConcurrency: e.SANDBOX_START_CONCURRENCY,
      timeoutDefaultMs: Math.min(e.EXEC_TIMEOUT_DEFAULT_MS, e.EXEC_TIMEOUT_MAX_MS),
      timeoutMaxMs: e.EXEC_TIMEOUT_MAX_MS,
      outputMaxBytes: e.EXEC_OUTPUT_MAX_BYTES,
      diskBytes: e.SANDBOX_DISK_BYTES,
      pidsLimit: e.SANDBOX_PIDS_LIMIT,
      cpus: e.SANDBOX_CPUS,
      syncMaxFiles: e.SANDBOX_SYNC_MAX_FILES,
    },
    workerConcurrency: e.WORKER_CONCURRENCY,
    capacity: { maxContainers: e.WORKER_MAX_CONTAINERS, maxMemoryBytes: e.WORKER_MAX_MEMORY },
    reaperIntervalMs: e.REAPER_INTERVAL_MS,
    queueLockMs: e.QUEUE_LOCK_MS,
    webhooks: {
      operator: e.WEBHOOK_URL && e.WEBHOOK_SECRET ? { url: e.WEBHOOK_URL, secret: e.WEBHOOK_SECRET } : null,
      allowPrivateTargets: e.WEBHOOK_ALLOW_PRIVATE_TARGETS === 'true' || e.WEBHOOK_ALLOW_PRIVATE_TARGETS === '1',
      maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      concurrency: e.WEBHOOK_CONCURRENCY,
    },
    model: {
      baseUrl: e.MODEL_BASE_URL?.replace(/\/+$/, '') ?? null,
      apiKey: e.MODEL_API_KEY ?? null,
      modelsFile: e.MODELS_FILE ?? null,
      timeoutMs: e.MODEL_TIMEOUT_MS,
      maxRetries: e.MODEL_MAX_RETRIES,
    },
    maxToolCalls: e.MAX_TOOL_CALLS,
    signingSecret: e.SIGNING_SECRET ?? randomBytes(32).toString('hex'),
    publicBaseUrl: e.PUBLIC_BASE_URL?.replace(/\/+$/, '') ?? null,
    responseTtlS: e.RESPONSE_TTL_S,
    batches: { concurrency: e.BATCH_CONCURRENCY, windowS: e.BATCH_COMPLETION_WINDOW_S },
    responsesConcurrency: e.RESPONSES_CONCURRENCY,
    metrics: { token: e.METRICS_TOKEN ?? null, workerPort: e.WORKER_METRICS_PORT },
    adminKey: e.ADMIN_KEY ?? null,
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');
