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

/** The longest file name, in bytes of UTF-8: what Linux file systems hold (NAME_MAX). */
export const MAX_FILE_NAME_BYTES = 255;

/**
 * A file name, for the Files API and container files alike: one rule for both, so any uploaded
 * file can be copied into a container and sit in `/mnt/data` under its own name. One path segment
 * that names something and reads the same everywhere it is shown.
 */
export const fileNameSchema = z
  .string()
  .min(1, 'must not be empty')
  .refine((n) => Buffer.byteLength(n, 'utf8') <= MAX_FILE_NAME_BYTES, `must be at most ${MAX_FILE_NAME_BYTES} bytes of UTF-8`)
  .refine((n) => n !== '.' && n !== '..', "must not be '.' or '..'")
  .refine((n) => !/[/\\]/.test(n), 'must not contain / or \\ (it is a name, not a path)')
  // C0, DEL and C1 control characters (NUL among them): invisible, and a newline forges log lines.
  // eslint-disable-next-line no-control-regex
  .refine((n) => !/[\x00-\x1f\x7f-\x9f]/.test(n), 'must not contain control characters')
  // A lone surrogate has no UTF-8 form: it would be stored as something other than what was sent.
  .refine((n) => !/\p{Cs}/u.test(n), 'must be valid Unicode text')
  .refine((n) => n.trim() === n, 'must not begin or end with white space');

/** `name` if it is a valid file name (see `fileNameSchema`), or a 400 naming `param`. */
export function parseFileName(name: string, param: string): string {
  const result = fileNameSchema.safeParse(name);
  if (result.success) return result.data;
  // A name past the limit is shown cut, so the error stays readable.
  const shown = name.length > 64 ? `${name.slice(0, 64)}…` : name;
  throw new InvalidRequestError(`Invalid file name ${JSON.stringify(shown)}: ${result.error.issues[0]?.message ?? 'invalid'}.`, param, 'invalid_file_name');
}
