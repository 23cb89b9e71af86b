/** One line of a JSONL file, as bytes, with where it is in the file. */
export interface JsonlLine {
  /** Line number, from 1. */
  number: number;
  /** Byte offset of the line's start, and of the next line's. */
  offset: number;
  next: number;
  /** The line without its `\n` (or `\r\n`); null when it is longer than the limit (its bytes were dropped). */
  bytes: Buffer | null;
}

const NEWLINE = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines as it arrives, holding at most one line (up to `maxBytes`; the
 * bytes of a longer line are dropped as they come, and it is yielded as null). `from` says where
 * in the file the stream starts, so offsets and numbers are the file's.
 */
export async function* jsonlLines(stream: AsyncIterable<Buffer> | Iterable<Buffer>, from: { offset: number; line: number }, maxBytes: number): AsyncGenerator<JsonlLine> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let tooLong = false;
  let offset = from.offset;
  let number = from.line;
  let lineStart = offset;
  const take = (next: number): JsonlLine => {
    let bytes: Buffer | null = null;
    if (!tooLong) {
      bytes = Buffer.concat(pending, pendingBytes);
      if (bytes.at(-1) === CR) bytes = bytes.subarray(0, -1);
    }
    const line = { number, offset: lineStart, next, bytes };
    pending = [];
    pendingBytes = 0;
    tooLong = false;
    number++;
    lineStart = next;
    return line;
  };
  const append = (piece: Buffer) => {
    if (tooLong || piece.length === 0) return;
    if (pendingBytes + piece.length > maxBytes) {
      tooLong = true;
      pending = [];
      pendingBytes = 0;
      return;
    }
    pending.push(piece);
    pendingBytes += piece.length;
  };
  for await (const chunk of stream) {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      append(chunk.subarray(start, nl));
      yield take(offset + nl + 1);
      start = nl + 1;
    }
    // Copied: the rest of a chunk stays pending, and must not pin the whole chunk.
    if (start < chunk.length) append(Buffer.from(chunk.subarray(start)));
    offset += chunk.length;
  }
  if (pendingBytes > 0 || tooLong) yield take(offset);
}
