/**
 * Reads the `code` of a `python` tool call while its JSON arguments are still arriving, so the code
 * reaches the client as the model writes it. Models stream arguments a few characters at a time,
 * split anywhere, including inside escape sequences; `push` returns the newly decoded code.
 */
export class CodeArgumentStream {
  private state: 'start' | 'beforeKey' | 'key' | 'colon' | 'value' | 'skip' | 'code' | 'after' | 'raw' = 'start';
  private key = '';
  private escape: string | null = null;
  /** A high surrogate waiting for its pair, so no delta ever splits a character. */
  private highSurrogate = '';
  private skipDepth = 0;
  private skipInString = false;
  private skipEscaped = false;
  private raw = '';
  private decoded = '';
  private sawCode = false;

  /** Feeds more argument text; returns the code decoded from it ('' when none). */
  push(chunk: string): string {
    this.raw += chunk;
    let out = '';
    for (const ch of chunk) out += this.step(ch);
    this.decoded += out;
    return out;
  }

  /** Everything `push` returned so far. */
  get streamed(): string {
    return this.decoded;
  }

  /**
   * The code of the whole call: the `code` string of valid JSON arguments; else what was decoded of
   * it (arguments cut short); else the raw text, for a model that wrote bare code instead of JSON.
   */
  finish(): string {
    try {
      const parsed = JSON.parse(this.raw) as unknown;
      if (parsed && typeof parsed === 'object' && typeof (parsed as { code?: unknown }).code === 'string') return (parsed as { code: string }).code;
      if (typeof parsed === 'string') return parsed;
    } catch {
      // not JSON: fall through
    }
    if (this.sawCode) return this.decoded + this.highSurrogate;
    return this.raw;
  }

  private step(ch: string): string {
    switch (this.state) {
      case 'start':
        if (isSpace(ch)) return '';
        this.state = ch === '{' ? 'beforeKey' : 'raw';
        return '';
      case 'beforeKey':
        if (ch === '"') {
          this.state = 'key';
          this.key = '';
        } else if (ch === '}') this.state = 'after';
        return '';
      case 'key':
        if (this.escape !== null) {
          this.escape = null;
          this.key += ch;
        } else if (ch === '\\') this.escape = '';
        else if (ch === '"') this.state = 'colon';
        else this.key += ch;
        return '';
      case 'colon':
        if (ch === ':') this.state = 'value';
        return '';
      case 'value':
        if (isSpace(ch)) return '';
        if (this.key === 'code' && ch === '"') {
          this.state = 'code';
          this.sawCode = true;
          return '';
        }
        this.state = 'skip';
        this.skipDepth = 0;
        this.skipInString = false;
        this.skipEscaped = false;
        return this.skip(ch);
      case 'skip':
        return this.skip(ch);
      case 'code':
        return this.codeChar(ch);
      default:
        return '';
    }
  }

  /** Skips the value of a key other than `code`, up to the comma or brace that ends it. */
  private skip(ch: string): string {
    if (this.skipInString) {
      if (this.skipEscaped) this.skipEscaped = false;
      else if (ch === '\\') this.skipEscaped = true;
      else if (ch === '"') this.skipInString = false;
      return '';
    }
    if (ch === '"') this.skipInString = true;
    else if (ch === '{' || ch === '[') this.skipDepth++;
    else if (ch === '}' || ch === ']') {
      if (this.skipDepth === 0) this.state = 'after';
      else this.skipDepth--;
    } else if (ch === ',' && this.skipDepth === 0) this.state = 'beforeKey';
    return '';
  }

  private codeChar(ch: string): string {
    if (this.escape !== null) {
      if (this.escape === '') {
        if (ch === 'u') {
          this.escape = 'u';
          return '';
        }
        this.escape = null;
        return this.emit(SIMPLE_ESCAPES[ch] ?? ch);
      }
      this.escape += ch;
      if (this.escape.length < 5) return '';
      const unit = Number.parseInt(this.escape.slice(1), 16);
      this.escape = null;
      return Number.isNaN(unit) ? '' : this.emit(String.fromCharCode(unit));
    }
    if (ch === '\\') {
      this.escape = '';
      return '';
    }
    if (ch === '"') {
      this.state = 'after';
      const rest = this.highSurrogate;
      this.highSurrogate = '';
      return rest;
    }
    return this.emit(ch);
  }

  private emit(s: string): string {
    const code = s.charCodeAt(0);
    if (s.length === 1 && code >= 0xd800 && code <= 0xdbff) {
      const held = this.highSurrogate;
      this.highSurrogate = s;
      return held;
    }
    const out = this.highSurrogate + s;
    this.highSurrogate = '';
    return out;
  }
}

const SIMPLE_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '"': '"', '\\': '\\', '/': '/' };

function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\n' || ch === '\r' || ch === '\t';
}
