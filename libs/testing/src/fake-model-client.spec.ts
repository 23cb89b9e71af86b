import { UpstreamError } from '@cibox/contracts';
import type { ChatChunk, ChatRequest } from '@cibox/model';
import { FakeModelClient } from './fake-model-client';

const ask = (content: string): ChatRequest => ({ model: 'm', messages: [{ role: 'user', content }], tools: [{ type: 'function', function: { name: 'python' } }] });
const collect = async (it: AsyncIterable<ChatChunk>) => {
  const out: ChatChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
};

describe('FakeModelClient', () => {
  it('streams its turns as parsed chunks, arguments in pieces, usage last', async () => {
    const fake = new FakeModelClient([{ tool_calls: [{ name: 'python', arguments: '{"code": "print(1)\\n"}' }] }, { content: 'done' }]);
    const first = await collect(fake.stream(ask('go')));
    const args = first.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).map((t) => t.function?.arguments ?? '');
    expect(args.length).toBeGreaterThan(5);
    expect(JSON.parse(args.join(''))).toEqual({ code: 'print(1)\n' });
    expect(first.at(-1)).toMatchObject({ choices: [], usage: { total_tokens: expect.any(Number) } });
    const second = await collect(fake.stream(ask('again')));
    expect(second.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('done');
    expect(fake.requests.map((r) => r.messages[0]!.content)).toEqual(['go', 'again']);
  });

  it('falls back to the persona once its turns are used up', async () => {
    const chunks = await collect(new FakeModelClient().stream(ask('plot fibonacci')));
    expect(chunks.some((c) => c.choices[0]?.delta.tool_calls?.[0]?.function?.name === 'python')).toBe(true);
  });

  it('fails a turn with a status, and breaks off where told', async () => {
    const fake = new FakeModelClient([{ status: 503 }, { content: 'abcdefghijkl', error_after_chunks: 2 }]);
    await expect(collect(fake.stream(ask('x')))).rejects.toBeInstanceOf(UpstreamError);
    const seen: ChatChunk[] = [];
    await expect((async () => { for await (const c of fake.stream(ask('y'))) seen.push(c); })()).rejects.toThrow(/after 2 chunks/);
    expect(seen).toHaveLength(2);
  });
});
