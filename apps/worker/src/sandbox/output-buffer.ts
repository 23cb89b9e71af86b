const NOTICE = (limit: number) => `\n[output truncated: exceeded ${limit} bytes]\n`;

/** Keeps at most `limit` bytes of a stream's text, then one truncation notice, and drops the rest. */
export class OutputBuffer {
  private readonly parts: string[] = [];
  private bytes = 0;
  truncated = false;

  constructor(private readonly limit: number) {}

  /** Returns the part of `text` that was kept (to relay), or '' once full. */
  append(text: string): string {
    if (this.truncated) return '';
    const size = Buffer.byteLength(text);
    if (this.bytes + size <= this.limit) {
      this.parts.push(text);
      this.bytes += size;
      return text;
    }
    const room = this.limit - this.bytes;
    const kept = Buffer.from(text).subarray(0, room).toString('utf8').replace(/\uFFFD$/, '') + NOTICE(this.limit);
    this.parts.push(kept);
    this.bytes = this.limit;
    this.truncated = true;
    return kept;
  }

  get text(): string {
    return this.parts.join('');
  }
}
