import { SseDecoder, type SseEvent } from './sse';

const decodeAll = (pieces: Uint8Array[]): SseEvent[] => {
  const decoder = new SseDecoder();
  return [...pieces.flatMap((p) => decoder.push(p)), ...decoder.end()];
};

describe('SseDecoder', () => {
  const stream =
    ': keep-alive comment\r\n\r\n' +
    'data: {"a":"caf\u00e9 \ud83d\ude00"}\r\n\r\n' +
    'event: ping\ndata: first line\ndata: second line\n\n' +
    'data:no-space\r\r' +
    'retry: 1000\nid: 7\ndata: [DONE]\n\n';
  const expected: SseEvent[] = [
    { event: 'message', data: '{"a":"caf\u00e9 \ud83d\ude00"}' },
    { event: 'ping', data: 'first line\nsecond line' },
    { event: 'message', data: 'no-space' },
    { event: 'message', data: '[DONE]' },
  ];
  const bytes = new TextEncoder().encode(stream);

  it('decodes a whole stream: comments skipped, multi-line data joined, LF, CR and CRLF line ends', () => {
    expect(decodeAll([bytes])).toEqual(expected);
  });

  it('gives the same events for the stream split in two at every byte boundary', () => {
    for (let i = 0; i <= bytes.length; i++) {
      expect({ split: i, events: decodeAll([bytes.subarray(0, i), bytes.subarray(i)]) }).toEqual({ split: i, events: expected });
    }
  });

  it('gives the same events one byte at a time (multi-byte characters and CRLF split)', () => {
    expect(decodeAll([...bytes].map((b) => Uint8Array.of(b)))).toEqual(expected);
  });

  it('drops an event whose blank line never came', () => {
    expect(decodeAll([new TextEncoder().encode('data: a\n\ndata: cut')])).toEqual([{ event: 'message', data: 'a' }]);
  });
});
