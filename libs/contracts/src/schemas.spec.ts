import { InvalidRequestError } from './errors';
import { MAX_FILE_NAME_BYTES, containerListQuerySchema, createContainerSchema, fileNameSchema, parseFileName, parseOrThrow } from './schemas';
import { newId } from './ids';

describe('parseOrThrow', () => {
  it('names the nested field that failed', () => {
    expect(() => parseOrThrow(createContainerSchema, { name: 'x', expires_after: { anchor: 'last_active_at', minutes: -1 } })).toThrow(
      expect.objectContaining({ param: 'expires_after.minutes', status: 400 }),
    );
  });

  it('uses the root param for a scalar schema', () => {
    try {
      parseOrThrow(fileNameSchema, '..', 'file');
      throw new Error('should have thrown');
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect((err as InvalidRequestError).param).toBe('file');
    }
  });

  it('defaults list queries and parses numbers from strings', () => {
    expect(parseOrThrow(containerListQuerySchema, {})).toMatchObject({ limit: 20, order: 'desc' });
    expect(parseOrThrow(containerListQuerySchema, { limit: '100', order: 'asc' })).toMatchObject({ limit: 100, order: 'asc' });
    expect(() => parseOrThrow(containerListQuerySchema, { limit: '1.5' })).toThrow(expect.objectContaining({ param: 'limit' }));
  });

});

describe('fileNameSchema (one rule for Files API and container file names)', () => {
  it.each([
    ['..', "must not be '.' or '..'"],
    ['.', "must not be '.' or '..'"],
    ['a/b', 'must not contain /'],
    ['a\\b', 'must not contain /'],
    ['nul\0', 'control characters'],
    ['line\nbreak', 'control characters'],
    ['del\x7f', 'control characters'],
    ['c1\x85', 'control characters'],
    ['', 'must not be empty'],
    [' lead.txt', 'white space'],
    ['trail.txt ', 'white space'],
    ['lone\ud800', 'valid Unicode'],
    ['a'.repeat(256), `at most ${MAX_FILE_NAME_BYTES} bytes`],
    ['ü'.repeat(128), `at most ${MAX_FILE_NAME_BYTES} bytes`], // 128 characters, 256 bytes
  ])('refuses %j', (name, why) => {
    const result = fileNameSchema.safeParse(name);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain(why);
  });

  it('accepts ordinary file names, up to 255 bytes of UTF-8', () => {
    for (const name of ['data.csv', 'report 2024.xlsx', '.hidden', '...', 'ünïcode.txt', '数据.csv', 'a'.repeat(255), '数'.repeat(85)])
      expect(fileNameSchema.safeParse(name).success).toBe(true);
  });

  it('parseFileName throws a 400 naming the param, with a long name shown cut', () => {
    expect(() => parseFileName('x'.repeat(300), 'file_ids.2')).toThrow(
      expect.objectContaining({ status: 400, param: 'file_ids.2', code: 'invalid_file_name', message: expect.stringMatching(/^Invalid file name "x{64}…": must be at most 255 bytes/) }),
    );
  });
});

describe('newId', () => {
  it('has the OpenAI prefix and 192 random bits', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newId('container')));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^cntr_[0-9a-f]{48}$/);
  });
});
