import { InvalidRequestError } from './errors';
import { containerFileNameSchema, containerListQuerySchema, createContainerSchema, parseOrThrow } from './schemas';
import { newId } from './ids';

describe('parseOrThrow', () => {
  it('names the nested field that failed', () => {
    expect(() => parseOrThrow(createContainerSchema, { name: 'x', expires_after: { anchor: 'last_active_at', minutes: -1 } })).toThrow(
      expect.objectContaining({ param: 'expires_after.minutes', status: 400 }),
    );
  });

  it('uses the root param for a scalar schema', () => {
    try {
      parseOrThrow(containerFileNameSchema, '..', 'file');
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

  it.each(['..', '.', 'a/b', 'a\\b', 'nul\0', 'line\nbreak', ''])('refuses the file name %j', (name) => {
    expect(containerFileNameSchema.safeParse(name).success).toBe(false);
  });

  it('accepts ordinary file names', () => {
    for (const name of ['data.csv', 'report 2024.xlsx', '.hidden', 'ünïcode.txt']) expect(containerFileNameSchema.safeParse(name).success).toBe(true);
  });
});

describe('newId', () => {
  it('has the OpenAI prefix and 192 random bits', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newId('container')));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^cntr_[0-9a-f]{48}$/);
  });
});
