import { z } from 'zod';
import type { ContainerFileObject } from './objects';

/** Request body of our extension `POST /v1/containers/{id}/executions`. */
export const createExecutionSchema = z
  .object({
    code: z.string({ required_error: 'is required' }).max(1_000_000),
    timeout_ms: z.number().int().min(1).max(24 * 3600 * 1000).optional(),
    stream: z.boolean().optional(),
  })
  .strict();
export type CreateExecutionRequest = z.infer<typeof createExecutionSchema>;

/**
 * `in_progress` only while it runs (retrieve, and the stream's `created` event); then one of the others.
 * `cancelled`: whoever started it gave up on it (a client that left a response), and the cell was interrupted.
 */
export type ExecutionStatus = 'in_progress' | 'completed' | 'failed' | 'timed_out' | 'cancelled';

export interface ExecutionError {
  name: string;
  value: string;
  traceback: string[];
}

export type ExecutionResult =
  | { type: 'text'; text: string }
  | { type: 'image'; format: 'png'; file_id: string };

/** An execution, as returned by the api and stored in Redis. */
export interface ExecutionObject {
  id: string;
  object: 'container.execution';
  container_id: string;
  created_at: number;
  status: ExecutionStatus;
  stdout: string;
  stderr: string;
  results: ExecutionResult[];
  error: ExecutionError | null;
  files: ContainerFileObject[];
  duration_ms: number;
  /** True when the sandbox had to be recreated and Python variables were lost. */
  state_lost: boolean;
  truncated: { stdout: boolean; stderr: boolean };
}

/**
 * What a worker publishes on an execution's Redis channel, in order, and what the api relays as
 * SSE. The same union feeds the JSON reply and the stored result. `created` comes from the api, once
 * the execution is queued: it carries the id, so a client that drops the stream can retrieve it later.
 */
export type ExecutionEvent =
  | { type: 'created'; execution: ExecutionObject }
  | { type: 'stdout'; text: string }
  | { type: 'stderr'; text: string }
  | { type: 'result'; result: ExecutionResult }
  | { type: 'done'; execution: ExecutionObject };
