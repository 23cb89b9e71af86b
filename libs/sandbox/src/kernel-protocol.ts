/** The newline-delimited JSON protocol of the in-container runner (libs/sandbox/image/runner.py). */

export type KernelRequest =
  | { type: 'exec'; id: string; code: string; max_output_bytes: number }
  | { type: 'interrupt' }
  | { type: 'ping' }
  | { type: 'put_file'; path: string; data: string; append?: boolean }
  | { type: 'get_file'; path: string }
  | { type: 'delete_file'; path: string };

export interface KernelError {
  name: string;
  value: string;
  traceback: string[];
}

export interface KernelDone {
  type: 'done';
  id: string;
  status: 'ok' | 'error';
  error: KernelError | null;
  files: { path: string; size: number }[];
  deleted: string[];
  truncated: { stdout: boolean; stderr: boolean };
}

/** Events of one cell, in the order the runner emits them. */
export type CellEvent =
  | { type: 'stdout'; id: string | null; text: string }
  | { type: 'stderr'; id: string | null; text: string }
  | { type: 'result'; id: string; text: string }
  | { type: 'image'; id: string; format: 'png'; data: string };

export type KernelMessage =
  | CellEvent
  | KernelDone
  | { type: 'ready'; python: string; ipython: string }
  | { type: 'pong' }
  | { type: 'put_file_done'; path: string; error?: string }
  | { type: 'delete_file_done'; path: string; error?: string }
  | { type: 'file_chunk'; path: string; data?: string; eof?: boolean; error?: string }
  | { type: 'error'; message: string };
