import { CodeArgumentStream } from './code-arguments';

/** Feeds `args` in pieces of `size` characters and returns the deltas and the final code. */
function feed(args: string, size: number): { deltas: string[]; code: string } {
  const s = new CodeArgumentStream();
  const deltas: string[] = [];
  for (let i = 0; i < args.length; i += size) {
    const d = s.push(args.slice(i, i + size));
    if (d) deltas.push(d);
  }
  return { deltas, code: s.finish() };
}

describe('CodeArgumentStream', () => {
  const samples = [
    'print("hello")\nfor i in range(3):\n\tprint(i)',
    'x = "a \\"quoted\\" \\\\ backslash"',
    'print("é ü 日本 😀 \u2028")',
    '',
  ];
  for (const code of samples) {
    for (const size of [1, 2, 3, 7, 1000]) {
      it(`decodes ${JSON.stringify(code).slice(0, 24)} split every ${size} characters`, () => {
        const args = JSON.stringify({ code });
        const { deltas, code: final } = feed(args, size);
        expect(deltas.join('')).toBe(code);
        expect(final).toBe(code);
      });
    }
  }

  it('decodes \\u escapes, surrogate pairs split across chunks included, without splitting a character', () => {
    const args = '{"code": "a\\u00e9\\ud83d\\ude00b"}';
    const { deltas, code } = feed(args, 1);
    expect(deltas.join('')).toBe('aé😀b');
    expect(code).toBe('aé😀b');
    for (const d of deltas) expect(d).not.toMatch(/^[\udc00-\udfff]|[\ud800-\udbff]$/);
  });

  it('skips keys before code, whatever their values', () => {
    const args = '{"note": "a, \\"}\\" b", "n": [1, {"x": "}"}], "code": "print(1)"}';
    expect(feed(args, 2)).toEqual({ deltas: expect.any(Array), code: 'print(1)' });
    expect(feed(args, 2).deltas.join('')).toBe('print(1)');
  });

  it('treats arguments that are not JSON as the code itself', () => {
    const { deltas, code } = feed('print(42)', 3);
    expect(deltas).toEqual([]);
    expect(code).toBe('print(42)');
  });

  it('keeps what was decoded when the arguments are cut short', () => {
    const { deltas, code } = feed('{"code": "print(1)\\nprint(2', 4);
    expect(deltas.join('')).toBe('print(1)\nprint(2');
    expect(code).toBe('print(1)\nprint(2');
  });

  it('accepts a JSON string as the arguments', () => {
    expect(feed('"print(3)"', 2).code).toBe('print(3)');
  });
});
