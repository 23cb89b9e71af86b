import { jsonlLines, type JsonlLine } from './jsonl-lines';

async function collect(chunks: string[], from = { offset: 0, line: 1 }, maxBytes = 1024): Promise<(Omit<JsonlLine, 'bytes'> & { text: string | null })[]> {
  const out = [];
  for await (const line of jsonlLines(chunks.map((c) => Buffer.from(c)), from, maxBytes)) {
    out.push({ number: line.number, offset: line.offset, next: line.next, text: line.bytes?.toString('utf8') ?? null });
  }
  return out;
}

describe('jsonlLines', () => {
  it('splits lines across chunk boundaries, with byte offsets of the file', async () => {
    expect(await collect(['{"a":1}\n{"b"', ':2}\r\n', 'é\n'])).toEqual([
      { number: 1, offset: 0, next: 8, text: '{"a":1}' },
      { number: 2, offset: 8, next: 17, text: '{"b":2}' },
      { number: 3, offset: 17, next: 20, text: 'é' },
    ]);
  });

  it('yields a last line without a newline, and an empty line as empty', async () => {
    expect(await collect(['a\n\nb'])).toEqual([
      { number: 1, offset: 0, next: 2, text: 'a' },
      { number: 2, offset: 2, next: 3, text: '' },
      { number: 3, offset: 3, next: 4, text: 'b' },
    ]);
  });

  it('numbers lines from where the stream starts in the file', async () => {
    expect(await collect(['x\ny\n'], { offset: 100, line: 7 })).toEqual([
      { number: 7, offset: 100, next: 102, text: 'x' },
      { number: 8, offset: 102, next: 104, text: 'y' },
    ]);
  });

  it('drops a line longer than the limit as it comes, and goes on with the next', async () => {
    expect(await collect(['0123', '456789', 'abc\nok\n', '0123456789abcdef'], undefined, 8)).toEqual([
      { number: 1, offset: 0, next: 14, text: null },
      { number: 2, offset: 14, next: 17, text: 'ok' },
      { number: 3, offset: 17, next: 33, text: null },
    ]);
  });
});
