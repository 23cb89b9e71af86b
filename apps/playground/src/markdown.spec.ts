import { parseBlocks, parseInlines, restorePlaceholders, withPlaceholders } from './markdown';

describe('parseBlocks', () => {
  it('reads the blocks answers are made of', () => {
    const blocks = parseBlocks(
      [
        '## Summary',
        'The mean is **4.2** and the',
        'median `3`.',
        '',
        '- first',
        '- second',
        '  continued',
        '',
        '3. three',
        '4. four',
        '',
        '```python',
        'print("# not a heading")',
        '```',
        '> quoted',
        '---',
        '| a | b |',
        '|---|:-:|',
        '| 1 | 2 |',
      ].join('\n'),
    );
    expect(blocks.map((b) => b.kind)).toEqual(['heading', 'paragraph', 'list', 'list', 'code', 'quote', 'rule', 'table']);
    expect(blocks[0]).toEqual({ kind: 'heading', level: 2, inlines: [{ kind: 'text', text: 'Summary' }] });
    expect(blocks[1]).toEqual({
      kind: 'paragraph',
      inlines: [
        { kind: 'text', text: 'The mean is ' },
        { kind: 'strong', children: [{ kind: 'text', text: '4.2' }] },
        { kind: 'text', text: ' and the\nmedian ' },
        { kind: 'code', text: '3' },
        { kind: 'text', text: '.' },
      ],
    });
    expect(blocks[2]).toMatchObject({ ordered: false, items: [[{ text: 'first' }], [{ text: 'second continued' }]] });
    expect(blocks[3]).toMatchObject({ ordered: true, start: 3 });
    expect(blocks[4]).toEqual({ kind: 'code', lang: 'python', text: 'print("# not a heading")' });
    expect(blocks[7]).toMatchObject({ head: [[{ text: 'a' }], [{ text: 'b' }]], rows: [[[{ text: '1' }], [{ text: '2' }]]] });
  });

  it('shows an unclosed fence, as a streaming answer has, as code up to the end', () => {
    expect(parseBlocks('Here:\n```\nx = 1\ny')).toEqual([
      { kind: 'paragraph', inlines: [{ kind: 'text', text: 'Here:' }] },
      { kind: 'code', lang: '', text: 'x = 1\ny' },
    ]);
  });
});

describe('parseInlines', () => {
  it('links only to the web or mail; other schemes stay text', () => {
    expect(parseInlines('[docs](https://example.com/a) [x](javascript:alert(1)) [f](sandbox:/mnt/data/f.csv)')).toEqual([
      { kind: 'link', href: 'https://example.com/a', children: [{ kind: 'text', text: 'docs' }] },
      { kind: 'text', text: ' ' },
      { kind: 'text', text: 'x' },
      { kind: 'text', text: ') ' },
      { kind: 'text', text: 'f' },
    ]);
  });

  it('leaves snake_case names and lone stars alone, and honours escapes', () => {
    expect(parseInlines('df_total and 2 * 3 * 4, \\*not em\\*, _em_')).toEqual([
      { kind: 'text', text: 'df_total and 2 * 3 * 4, *not em*, ' },
      { kind: 'em', children: [{ kind: 'text', text: 'em' }] },
    ]);
  });
});

describe('citations', () => {
  it('stay one link each, whatever Markdown surrounds them', () => {
    const text = 'See **[chart.png](sandbox:/mnt/data/chart.png)** and `data.csv`.';
    const start = text.indexOf('[chart');
    const end = text.indexOf(')**') + 1;
    const codeStart = text.indexOf('data.csv');
    const placed = withPlaceholders(text, [
      { start, end },
      { start: codeStart, end: codeStart + 'data.csv'.length },
    ]);
    const [paragraph] = parseBlocks(placed);
    expect(paragraph).toEqual({
      kind: 'paragraph',
      inlines: [
        { kind: 'text', text: 'See ' },
        { kind: 'strong', children: [{ kind: 'citation', index: 0 }] },
        { kind: 'text', text: ' and ' },
        { kind: 'code', text: '\uE001' },
        { kind: 'text', text: '.' },
      ],
    });
    expect(restorePlaceholders('\uE001', (n) => ['chart.png', 'data.csv'][n]!)).toBe('data.csv');
  });
});
