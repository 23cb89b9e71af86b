/**
 * The event types of a streamed response whose model runs code once and then answers citing a file
 * the code wrote, in order, each run of one type (the deltas) counted once: what OpenAI emits.
 */
export const ONE_CODE_CALL_EVENT_TYPES = [
  'response.created',
  'response.in_progress',
  'response.output_item.added',
  'response.code_interpreter_call.in_progress',
  'response.code_interpreter_call_code.delta',
  'response.code_interpreter_call_code.done',
  'response.code_interpreter_call.interpreting',
  'response.code_interpreter_call.completed',
  'response.output_item.done',
  'response.output_item.added',
  'response.content_part.added',
  'response.output_text.delta',
  'response.output_text.annotation.added',
  'response.output_text.done',
  'response.content_part.done',
  'response.output_item.done',
  'response.completed',
];

/** The types in order with each run of one type counted once, to compare with the list above. */
export const distinctRuns = (types: string[]): string[] => types.filter((t, i) => t !== types[i - 1]);
