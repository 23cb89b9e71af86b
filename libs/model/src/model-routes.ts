import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, type AppConfig } from '@cibox/config';
import { ModelNotConfiguredError, ModelNotFoundError } from '@cibox/contracts';

export type ModelConfig = AppConfig['model'];

/** One OpenAI-compatible server we may call, and what to call it with. */
export interface Upstream {
  /** Base URL without a trailing slash, e.g. https://api.openai.com/v1. */
  baseUrl: string;
  apiKey: string | null;
  /** What sets the key, named when the upstream rejects it: `MODEL_API_KEY`, or a route's `api_key_env`. */
  keySource: string;
}

export interface ModelRoute {
  /** The name clients use; `prefix*` matches every name that starts with `prefix`. */
  id: string;
  upstream: Upstream;
  /** The name sent upstream; a `*` in it is replaced by what the route's `*` matched. Null: the name as given. */
  upstreamModel: string | null;
  ownedBy: string;
}

/** The routing decision for one request. */
export interface ModelTarget {
  upstream: Upstream;
  /** The `model` to send upstream. */
  model: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const routeSchema = z
  .object({
    id: z
      .string()
      .min(1)
      .refine((id) => !id.slice(0, -1).includes('*'), 'a wildcard `*` may only end the id'),
    base_url: z.string().url().optional(),
    api_key_env: z.string().regex(ENV_NAME, 'must be an environment variable name').optional(),
    api_key: z.string().min(1).optional(),
    upstream_model: z.string().min(1).optional(),
    owned_by: z.string().min(1).optional(),
  })
  .strict()
  .refine((r) => !(r.api_key && r.api_key_env), { message: 'give api_key_env or api_key, not both', path: ['api_key'] });

/** The models file (MODELS_FILE). Unknown fields are errors, so a misspelt key is not silently ignored. */
export const modelsFileSchema = z
  .object({ models: z.array(routeSchema) })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.models.forEach((route, i) => {
      if (seen.has(route.id)) ctx.addIssue({ code: 'custom', path: ['models', i, 'id'], message: `duplicate id '${route.id}'` });
      seen.add(route.id);
    });
  });

/** Where every model name goes: the models file's routes, then the default upstream. */
export class ModelRouter {
  constructor(
    readonly routes: ModelRoute[],
    readonly fallback: Upstream | null,
    /** `created` of the listed models: the models file's modification time (Unix seconds). */
    readonly created: number,
  ) {}

  configured(): boolean {
    return this.routes.length > 0 || this.fallback !== null;
  }

  /** Exact id first, then the longest matching wildcard, then the default upstream with the name as is. */
  resolve(model: string): ModelTarget {
    if (!this.configured()) throw new ModelNotConfiguredError();
    const exact = this.routes.find((r) => r.id === model);
    if (exact) return { upstream: exact.upstream, model: exact.upstreamModel ?? model };
    const wildcard = this.routes
      .filter((r) => r.id.endsWith('*') && model.startsWith(r.id.slice(0, -1)))
      .sort((a, b) => b.id.length - a.id.length)[0];
    if (wildcard) {
      const rest = model.slice(wildcard.id.length - 1);
      return { upstream: wildcard.upstream, model: wildcard.upstreamModel?.replace('*', rest) ?? model };
    }
    if (this.fallback) return { upstream: this.fallback, model };
    throw new ModelNotFoundError(model);
  }
}

/** Builds the router from the config, reading and validating MODELS_FILE; throws a ConfigError naming the file and field. */
export function loadModelRouter(config: ModelConfig, env: NodeJS.ProcessEnv = process.env): ModelRouter {
  const fallback: Upstream | null = config.baseUrl ? { baseUrl: config.baseUrl, apiKey: config.apiKey || null, keySource: 'MODEL_API_KEY' } : null;
  if (!config.modelsFile) return new ModelRouter([], fallback, 0);
  const file = config.modelsFile;
  const fail = (why: string) => new ConfigError(`Invalid MODELS_FILE ${file}: ${why}`);
  let text: string;
  let created: number;
  try {
    text = readFileSync(file, 'utf8');
    created = Math.floor(statSync(file).mtimeMs / 1000);
  } catch (err) {
    throw fail(`cannot read it (${(err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw fail(`not valid JSON (${(err as Error).message})`);
  }
  const parsed = modelsFileSchema.safeParse(json);
  if (!parsed.success) throw fail(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  const routes = parsed.data.models.map((r, i): ModelRoute => {
    const at = `models.${i}`;
    if (!r.base_url && !fallback) throw fail(`${at}.base_url: required when MODEL_BASE_URL is unset`);
    let apiKey: string | null;
    let keySource: string;
    if (r.api_key_env) {
      apiKey = env[r.api_key_env] || null;
      keySource = r.api_key_env;
      if (!apiKey) throw fail(`${at}.api_key_env: the environment variable ${r.api_key_env} is not set`);
    } else if (r.api_key) {
      apiKey = r.api_key;
      keySource = `api_key of model '${r.id}' in MODELS_FILE`;
    } else if (r.base_url) {
      // Local servers (Ollama, llama.cpp) take no key.
      apiKey = null;
      keySource = `api_key_env of model '${r.id}' in MODELS_FILE (none is set)`;
    } else {
      apiKey = fallback!.apiKey;
      keySource = fallback!.keySource;
    }
    const upstream = { baseUrl: (r.base_url ?? fallback!.baseUrl).replace(/\/+$/, ''), apiKey, keySource };
    return { id: r.id, upstream, upstreamModel: r.upstream_model ?? null, ownedBy: r.owned_by ?? 'cibox' };
  });
  return new ModelRouter(routes, fallback, created);
}
