import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { baseUrl } from './clients';

/** Runs a script with the official Python `openai` package (the venv global setup readies) against our api; its stdout as JSON. */
export async function python(script: string, apiKey: string, timeoutMs = 60_000): Promise<any> {
  // Asynchronous on purpose: a blocked event loop here would stall nothing today, but would the
  // scripted upstream if it ever ran in this process.
  const { stdout } = await promisify(execFile)(process.env.CIBOX_PYTHON!, ['-c', script], {
    env: { PATH: process.env.PATH, OPENAI_API_KEY: apiKey, OPENAI_BASE_URL: `${baseUrl()}/v1` },
    timeout: timeoutMs,
  });
  return JSON.parse(stdout);
}
