import { z } from 'zod';
import { listQuerySchema } from './schemas';

/** The endpoints a batch's lines may call: the ones that run the code interpreter. */
export const BATCH_ENDPOINTS = ['/v1/responses', '/v1/chat/completions'] as const;
export type BatchEndpoint = (typeof BATCH_ENDPOINTS)[number];

/** OpenAI's other batch endpoints: known, and refused with a message saying what we serve. */
const OTHER_OPENAI_ENDPOINTS = ['/v1/embeddings', '/v1/completions', '/v1/moderations', '/v1/images/generations', '/v1/images/edits', '/v1/videos'];

/** Metadata as OpenAI bounds it: at most 16 pairs, keys up to 64 characters, values up to 512. */
export const metadataSchema = z
  .record(z.string().max(64, 'keys must be at most 64 characters'), z.string().max(512, 'values must be at most 512 characters'))
  .refine((m) => Object.keys(m).length <= 16, 'must have at most 16 keys');

export const createBatchSchema = z
  .object({
    input_file_id: z.string({ required_error: 'is required' }).min(1).max(200),
    endpoint: z.string({ required_error: 'is required' }).refine(
      (e): e is BatchEndpoint => (BATCH_ENDPOINTS as readonly string[]).includes(e),
      (e) => ({
        message: OTHER_OPENAI_ENDPOINTS.includes(e)
          ? `${e} is not served here; batches run ${BATCH_ENDPOINTS.join(' or ')}`
          : `must be one of ${BATCH_ENDPOINTS.join(', ')}`,
      }),
    ),
    completion_window: z.literal('24h', { errorMap: () => ({ message: "must be '24h'" }) }),
    metadata: metadataSchema.nullish(),
    output_expires_after: z
      .object({ anchor: z.literal('created_at'), seconds: z.number().int().min(3600).max(30 * 24 * 3600) })
      .strict()
      .nullish(),
  })
  .strict();
export type CreateBatchRequest = z.infer<typeof createBatchSchema>;

export const batchListQuerySchema = listQuerySchema(100, 20);

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

/** The states a batch never leaves. */
export const FINAL_BATCH_STATUSES: readonly BatchStatus[] = ['failed', 'completed', 'expired', 'cancelled'];

export interface BatchRequestCounts {
  total: number;
  completed: number;
  failed: number;
}

export interface BatchUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface BatchError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

/** The Batch object, field for field as the SDK types it. */
export interface BatchObject {
  id: string;
  object: 'batch';
  endpoint: BatchEndpoint;
  errors: { object: 'list'; data: BatchError[] } | null;
  input_file_id: string;
  completion_window: '24h';
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: BatchRequestCounts;
  usage: BatchUsage;
  model: string | null;
  metadata: Record<string, string> | null;
}

/**
 * One line of a batch's output or error file. A request that ran has its `response` (whatever its
 * status); one that never ran (a bad line, past the window) has an `error`, with the line number
 * of the input file (from 1) when it came from one.
 */
export interface BatchResultLine {
  id: string;
  custom_id: string | null;
  response: { status_code: number; request_id: string; body: unknown } | null;
  error: { code: string; message: string; line?: number } | null;
}
