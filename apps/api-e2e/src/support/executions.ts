import { raw } from './clients';

export interface Execution {
  id: string;
  object: string;
  container_id: string;
  status: 'completed' | 'failed' | 'timed_out' | 'cancelled';
  stdout: string;
  stderr: string;
  results: ({ type: 'text'; text: string } | { type: 'image'; format: 'png'; file_id: string })[];
  error: { name: string; value: string; traceback: string[] } | null;
  files: { id: string; path: string; bytes: number; source: string }[];
  duration_ms: number;
  state_lost: boolean;
  truncated: { stdout: boolean; stderr: boolean };
}

/** Runs code through our extension endpoint and returns the finished execution (on the suite's stack unless `baseUrl`). */
export async function execute(containerId: string, code: string, opts: { timeout_ms?: number; key?: string; baseUrl?: string } = {}): Promise<Execution> {
  const res = await raw('POST', `/v1/containers/${containerId}/executions`, {
    body: { code, ...(opts.timeout_ms ? { timeout_ms: opts.timeout_ms } : {}) },
    key: opts.key,
    baseUrl: opts.baseUrl,
  });
  if (res.status !== 200) throw new Error(`execution failed with HTTP ${res.status}: ${res.text}`);
  return res.json as Execution;
}
