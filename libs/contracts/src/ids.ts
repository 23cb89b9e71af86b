import { randomBytes } from 'node:crypto';

/** OpenAI-style prefixes; the random part is 192 bits, so ids cannot be guessed. */
export const ID_PREFIX = {
  file: 'file-',
  container: 'cntr_',
  containerFile: 'cfile_',
  execution: 'exec_',
  webhookEndpoint: 'whe_',
  webhookDelivery: 'whdel_',
  event: 'evt_',
  response: 'resp_',
  message: 'msg_',
  codeInterpreterCall: 'ci_',
  functionCall: 'fc_',
  toolCall: 'call_',
  batch: 'batch_',
  batchRequest: 'batch_req_',
  request: 'req_',
} as const;

export type IdKind = keyof typeof ID_PREFIX;

export function newId(kind: IdKind): string {
  return ID_PREFIX[kind] + randomBytes(24).toString('hex');
}

/** Unix seconds, as every OpenAI timestamp. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
