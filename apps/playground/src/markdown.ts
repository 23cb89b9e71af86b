/**
 * The Markdown that models write in answers, parsed into a small tree the page renders as elements
 * (never as HTML: the text is the model's, and through it the user's code). Covers what answers use:
 * paragraphs, headings, fenced code, lists, quotes, rules, tables, `code`, **strong**, *emphasis*
 * and links. File citations are index ranges in the raw text; each is swapped for one placeholder
 * character before parsing, so a citation stays one link whatever Markdown surrounds it.
 */

export type Inline =
  | { kind: 'text'; text: string }
  | { kind: 'code'; text: string }
  | { kind: 'strong' | 'em'; children: Inline[] }
  | { kind: 'link'; href: string; children: Inline[] }
  | { kind: 'citation'; index: number };

export type Block =
  | { kind: 'paragraph'; inlines: Inline[] }
  | { kind: 'heading'; level: number; inlines: Inline[] }
  | { kind: 'code'; lang: string; text: string }
  | { kind: 'list'; ordered: boolean; start: number; items: Inline[][] }
  | { kind: 'quote'; blocks: Block[] }
  | { kind: 'rule' }
  | { kind: 'table'; head: Inline[][]; rows: Inline[][][] };

/** Private-use characters stand for citations while parsing: U+E000 is the first citation. */
const CITATION_BASE = 0xe000;
const CITATION_LIMIT = 0x1000;
const isCitationChar = (ch: string): boolean => {
  const code = ch.charCodeAt(0);
  return code >= CITATION_BASE && code < CITATION_BASE + CITATION_LIMIT;
};

/** The text with each range replaced by its placeholder; ranges must be sorted and disjoint. */
export function withPlaceholders(text: string, ranges: { start: number; end: number }[]): string {
  let out = '';
  let at = 0;
  for (const [i, r] of ranges.slice(0, CITATION_LIMIT).entries()) {
    out += text.slice(at, r.start) + String.fromCharCode(CITATION_BASE + i);
    at = r.end;
  }
  return out + text.slice(at);
}

/** Text with each placeholder replaced by `name(index)`, for code, where no link can go. */
export function restorePlaceholders(text: string, name: (index: number) => string): string {
  return text.replace(/[\uE000-\uEFFF]/g, (ch) => name(ch.charCodeAt(0) - CITATION_BASE));
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const ORDERED = /^\s*(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;
const TABLE_DIVIDER = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;

const splitRow = (line: string): string[] =>
  line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((cell) => cell.trim());

/** Whether a line starts a block other than a paragraph (so a paragraph ends before it). */
const startsBlock = (line: string): boolean =>
  FENCE.test(line) || HEADING.test(line) || RULE.test(line) || BULLET.test(line) || ORDERED.test(line) || QUOTE.test(line);

export function parseBlocks(source: string): Block[] {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '') {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const body: string[] = [];
      i++;
      // An unclosed fence (a streaming answer) runs to the end.
      while (i < lines.length && !lines[i]!.trim().startsWith(fence[1]!)) body.push(lines[i++]!);
      i++;
      blocks.push({ kind: 'code', lang: fence[2] ?? '', text: body.join('\n') });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      blocks.push({ kind: 'heading', level: heading[1]!.length, inlines: parseInlines(heading[2]!) });
      i++;
      continue;
    }
    if (RULE.test(line)) {
      blocks.push({ kind: 'rule' });
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const body: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i]!)) body.push(QUOTE.exec(lines[i++]!)![1]!);
      blocks.push({ kind: 'quote', blocks: parseBlocks(body.join('\n')) });
      continue;
    }
    const ordered = ORDERED.exec(line);
    if (ordered || BULLET.test(line)) {
      const pattern = ordered ? ORDERED : BULLET;
      const items: string[] = [];
      while (i < lines.length) {
        const current = lines[i]!;
        const item = pattern.exec(current);
        if (item) items.push(item[item.length - 1]!);
        else if (current.trim() !== '' && /^\s+/.test(current) && items.length > 0) items[items.length - 1] += ` ${current.trim()}`;
        else break;
        i++;
      }
      blocks.push({ kind: 'list', ordered: ordered !== null, start: ordered ? Number(ordered[1]) : 1, items: items.map(parseInlines) });
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_DIVIDER.test(lines[i + 1]!) && lines[i + 1]!.includes('-')) {
      const head = splitRow(line).map(parseInlines);
      const rows: Inline[][][] = [];
      i += 2;
      while (i < lines.length && lines[i]!.includes('|') && lines[i]!.trim() !== '') rows.push(splitRow(lines[i++]!).map(parseInlines));
      blocks.push({ kind: 'table', head, rows });
      continue;
    }
    const paragraph: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '' && (paragraph.length === 0 || !startsBlock(lines[i]!))) paragraph.push(lines[i++]!.trim());
    blocks.push({ kind: 'paragraph', inlines: parseInlines(paragraph.join('\n')) });
  }
  return blocks;
}

/** Links the page follows: the web, and mail. Anything else (`javascript:`, `sandbox:`) stays text. */
const SAFE_HREF = /^(https?:\/\/|mailto:)/i;

export function parseInlines(text: string): Inline[] {
  const out: Inline[] = [];
  let plain = '';
  const flush = () => {
    if (plain) out.push({ kind: 'text', text: plain });
    plain = '';
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (isCitationChar(ch)) {
      flush();
      out.push({ kind: 'citation', index: ch.charCodeAt(0) - CITATION_BASE });
      i++;
      continue;
    }
    if (ch === '\\' && i + 1 < text.length && /[\\`*_[\]()#+\-.!|>~]/.test(text[i + 1]!)) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === '`') {
      const ticks = /^`+/.exec(text.slice(i))![0];
      const close = text.indexOf(ticks, i + ticks.length);
      if (close > 0) {
        flush();
        out.push({ kind: 'code', text: text.slice(i + ticks.length, close).trim() || text.slice(i + ticks.length, close) });
        i = close + ticks.length;
        continue;
      }
    }
    if ((ch === '*' || ch === '_') && text[i + 1] === ch) {
      const close = text.indexOf(ch + ch, i + 2);
      if (close > i + 2) {
        flush();
        out.push({ kind: 'strong', children: parseInlines(text.slice(i + 2, close)) });
        i = close + 2;
        continue;
      }
    }
    // `_` emphasis only at a word boundary, so snake_case names stay as written.
    if ((ch === '*' || (ch === '_' && !/\w/.test(text[i - 1] ?? ''))) && text[i + 1] !== ' ' && text[i + 1] !== undefined) {
      const close = findClosing(text, ch, i + 1);
      if (close > i + 1) {
        flush();
        out.push({ kind: 'em', children: parseInlines(text.slice(i + 1, close)) });
        i = close + 1;
        continue;
      }
    }
    if (ch === '[') {
      const link = /^\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/.exec(text.slice(i));
      if (link) {
        flush();
        const children = parseInlines(link[1]!);
        if (SAFE_HREF.test(link[2]!)) out.push({ kind: 'link', href: link[2]!, children });
        else out.push(...children);
        i += link[0].length;
        continue;
      }
    }
    plain += ch;
    i++;
  }
  flush();
  return out;
}

function findClosing(text: string, marker: string, from: number): number {
  for (let j = from; j < text.length; j++) {
    if (text[j] === '\n' && text[j + 1] === '\n') return -1;
    if (text[j] !== marker || text[j - 1] === ' ' || text[j + 1] === marker) continue;
    if (marker === '_' && /\w/.test(text[j + 1] ?? '')) continue;
    return j;
  }
  return -1;
}
