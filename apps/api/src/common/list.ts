import type { ListEnvelope } from '@cibox/contracts';
import type { Page } from '@cibox/storage';

/** OpenAI's cursor-page envelope around one page of records. */
export function toListEnvelope<R, T extends { id: string }>(page: Page<R>, map: (r: R) => T): ListEnvelope<T> {
  const data = page.data.map(map);
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: page.hasMore };
}
