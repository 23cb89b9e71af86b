import type { ExecutionObject } from '@cibox/contracts';

/** The most of one tool result the model is shown; the middle of a longer one is cut. */
export const TOOL_RESULT_MAX_CHARS = 16_000;

function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = Math.floor(max * 0.6);
  const tail = max - head;
  return `${text.slice(0, head)}\n[… ${text.length - max} characters cut …]\n${text.slice(text.length - tail)}`;
}

/**
 * What the model reads after its code ran: stdout, stderr, the error with its traceback, result
 * values, the files the code created or changed, and why it stopped if it did not finish.
 */
export function toolResultForModel(execution: ExecutionObject): string {
  const parts: string[] = [];
  if (execution.stdout) parts.push(`[stdout]\n${cut(execution.stdout, TOOL_RESULT_MAX_CHARS / 2)}`);
  if (execution.stderr) parts.push(`[stderr]\n${cut(execution.stderr, TOOL_RESULT_MAX_CHARS / 4)}`);
  const values = execution.results.filter((r) => r.type === 'text').map((r) => (r as { text: string }).text).filter(Boolean);
  if (values.length > 0) parts.push(`[result]\n${cut(values.join('\n'), TOOL_RESULT_MAX_CHARS / 4)}`);
  const figures = execution.results.filter((r) => r.type === 'image').length;
  if (figures > 0) parts.push(`[figures]\n${figures} figure${figures === 1 ? '' : 's'} displayed to the user.`);
  if (execution.files.length > 0) parts.push(`[files]\n${execution.files.map((f) => f.path).join('\n')}`);
  if (execution.error) {
    const traceback = execution.error.traceback.join('\n');
    parts.push(`[error]\n${cut(traceback || `${execution.error.name}: ${execution.error.value}`, TOOL_RESULT_MAX_CHARS / 4)}`);
    if (traceback && !traceback.includes(execution.error.value)) parts.push(`${execution.error.name}: ${execution.error.value}`);
  }
  if (execution.state_lost) parts.push('[note]\nThe Python session was restarted: variables from earlier calls are gone; files in /mnt/data were kept.');
  return cut(parts.length > 0 ? parts.join('\n\n') : '[no output]', TOOL_RESULT_MAX_CHARS);
}

/** The `logs` output of a code_interpreter_call: what a notebook would show as text. */
export function logsOf(execution: ExecutionObject): string {
  const values = execution.results.filter((r) => r.type === 'text').map((r) => (r as { text: string }).text);
  const error = execution.error ? execution.error.traceback.join('\n') || `${execution.error.name}: ${execution.error.value}` : '';
  return [execution.stdout, execution.stderr, ...values, error]
    .filter(Boolean)
    .map((s) => (s.endsWith('\n') ? s : `${s}\n`))
    .join('');
}
