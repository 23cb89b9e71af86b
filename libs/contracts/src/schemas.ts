import { z } from 'zod';
import { InvalidRequestError } from './errors';
import { FILE_PURPOSES, MEMORY_LIMITS } from './objects';

/** Parses `input` with `schema`, or throws a 400 naming the first offending field. */
export function parseOrThrow<S extends z.ZodTypeAny>(schema: S, input: unknown, rootParam: string | null = null): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data as z.infer<S>;
  const issue = result.error.issues[0];
  const param = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : rootParam;
  const message = issue
    ? param
      ? `Invalid '${param}': ${issue.message}.`
      : `Invalid request: ${issue.message}.`
    : 'Invalid request.';
  throw new InvalidRequestError(message, param, 'invalid_value');
}

const queryInt = (min: number, max: number, def: number) =>
  z
    .string()
    .regex(/^\d+$/, 'expected an integer')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
    .optional()
    .transform((v) => v ?? def);

const order = z.enum(['asc', 'desc']).optional().transform((v) => v ?? 'desc');
const cursor = z.string().min(1).max(200).optional();

/** Query of a paginated list. Query strings arrive as strings, so numbers are parsed here. */
export const listQuerySchema = (maxLimit = 100, defLimit = 20) =>
  z.object({ after: cursor, limit: queryInt(1, maxLimit, defLimit), order }).passthrough();
export type ListQuery = { after?: string; limit: number; order: 'asc' | 'desc' };

export const containerListQuerySchema = listQuerySchema().extend({ name: z.string().max(256).optional() });
export const fileListQuerySchema = listQuerySchema(10_000, 10_000).extend({ purpose: z.string().max(64).optional() });

export const filePurposeSchema = z.enum(FILE_PURPOSES, {
  errorMap: () => ({ message: `must be one of ${FILE_PURPOSES.join(', ')}` }),
});

export const createContainerSchema = z
  .object({
    name: z.string({ required_error: 'is required' }).min(1, 'must not be empty').max(256),
    file_ids: z.array(z.string().min(1).max(200)).max(100).optional(),
    expires_after: z
      .object({
        anchor: z.literal('last_active_at'),
        minutes: z.number().int().min(1).max(7 * 24 * 60),
      })
      .strict()
      .optional(),
    memory_limit: z.enum(MEMORY_LIMITS).optional(),
    // Accepted for wire compatibility; sandboxes have no network either way.
    network_policy: z.object({ type: z.enum(['disabled', 'allowlist']) }).passthrough().optional(),
    skills: z.array(z.unknown()).optional(),
  })
  .strict();
export type CreateContainerRequest = z.infer<typeof createContainerSchema>;

export const containerFileFromIdSchema = z
  .object({ file_id: z.string({ required_error: 'is required' }).min(1).max(200) })
  .strict();

/** A file name as it will sit in `/mnt/data`: one path segment, nothing that walks out. */
export const containerFileNameSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters')
  // Control characters are exactly what this rule is about.
  // eslint-disable-next-line no-control-regex
  .refine((n) => n !== '.' && n !== '..' && !/[/\\\0]/.test(n) && !/[\x00-\x1f]/.test(n), 'is not a valid file name');
