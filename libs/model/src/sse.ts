/**
 * An incremental Server-Sent Events decoder (the WHATWG event-stream rules we need: `data` lines
 * joined by "\n", comments, LF / CR / CRLF line ends split anywhere). Hand-written because the
 * workspace has no SSE library and adding one is not ours to decide; it is small and tested byte by byte.
 */
export interface SseEvent {
  event: string;
  data: string;
}

export class SseDecoder {
  private readonly text = new TextDecoder('utf-8');
  private buffer = '';
  /** A CR ended the last chunk: an LF starting the next one belongs to the same line end. */
  private afterCr = false;
  private data: string[] = [];
  private event = '';

  /** Feeds raw bytes; returns the events they complete. */
  push(bytes: Uint8Array): SseEvent[] {
    return this.feed(this.text.decode(bytes, { stream: true }));
  }

  /** Ends the stream; a trailing event without its blank line is dropped, as the spec says. */
  end(): SseEvent[] {
    return this.feed(this.text.decode());
  }

  private feed(chunk: string): SseEvent[] {
    if (this.afterCr && chunk.startsWith('\n')) chunk = chunk.slice(1);
    this.afterCr = false;
    this.buffer += chunk;
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const ch = this.buffer[i];
      if (ch !== '\n' && ch !== '\r') continue;
      const line = this.buffer.slice(start, i);
      if (ch === '\r') {
        if (i + 1 === this.buffer.length) this.afterCr = true;
        else if (this.buffer[i + 1] === '\n') i++;
      }
      start = i + 1;
      const event = this.line(line);
      if (event) events.push(event);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  private line(line: string): SseEvent | null {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = '';
        return null;
      }
      const event = { event: this.event || 'message', data: this.data.join('\n') };
      this.data = [];
      this.event = '';
      return event;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    return null;
  }
}
