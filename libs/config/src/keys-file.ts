import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** A tenant's limits; a missing one is unlimited. */
const limitsSchema = z
  .object({
    live_containers: z.number().int().min(0).optional(),
    concurrent_executions: z.number().int().min(0).optional(),
    requests_per_minute: z.number().int().min(0).optional(),
  })
  .strict();

const keySchema = z.union([
  z.object({ key: z.string().min(1), limits: limitsSchema.optional() }).strict(),
  z.object({ key_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'), limits: limitsSchema.optional() }).strict(),
]);

/** The file named by `API_KEYS_FILE`. */
export const keysFileSchema = z.object({ keys: z.array(keySchema), defaults: limitsSchema.optional() }).strict();

export type TenantLimits = z.infer<typeof limitsSchema>;
export type KeysFile = z.infer<typeof keysFileSchema>;

/** Reads and validates a keys file; the error names the file and every bad field. */
export function readKeysFile(file: string): KeysFile {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`API_KEYS_FILE ${file}: ${(err as Error).message}`);
  }
  const parsed = keysFileSchema.safeParse(json);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`API_KEYS_FILE ${file} is invalid:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
