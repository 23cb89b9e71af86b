import type { Readable } from 'node:stream';
import type { ObjectStore } from '@cibox/storage';
import { MAX_LINE_BYTES } from './batch-outcomes';
import { jsonlLines, type JsonlLine } from './jsonl-lines';

/** The input file could not be opened or read to its end. */
export class InputReadError extends Error {}

/** The input file's lines from an offset, pulled one at a time. */
export class InputReader {
  private readonly lines: AsyncGenerator<JsonlLine>;
  private lastRead = Date.now();

  private constructor(
    private readonly stream: Readable,
    from: { offset: number; line: number },
  ) {
    this.lines = jsonlLines(stream, from, MAX_LINE_BYTES);
  }

  static async open(store: ObjectStore, key: string, from: { offset: number; line: number }): Promise<InputReader> {
    try {
      return new InputReader(await store.getFrom(key, from.offset), from);
    } catch (err) {
      throw new InputReadError((err as Error).message);
    }
  }

  async next(): Promise<JsonlLine | null> {
    let next: IteratorResult<JsonlLine>;
    try {
      next = await this.lines.next();
    } catch (err) {
      throw new InputReadError((err as Error).message);
    }
    this.lastRead = Date.now();
    return next.done ? null : next.value;
  }

  idleMs(): number {
    return Date.now() - this.lastRead;
  }

  close(): null {
    this.stream.destroy();
    return null;
  }
}
