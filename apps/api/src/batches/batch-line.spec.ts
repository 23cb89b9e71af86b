import { InvalidRequestError } from '@cibox/contracts';
import { parseBatchLine } from './batch-line';

const MAX = 1024;
const valid = () => undefined;
const line = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
const parse = (value: unknown, validate: (body: Record<string, unknown>) => void = valid) => parseBatchLine(value === null ? null : line(value), '/v1/responses', validate, MAX);
const request = { custom_id: 'r1', method: 'POST', url: '/v1/responses', body: { model: 'm', input: 'hi' } };

describe('parseBatchLine', () => {
  it('accepts a request line to the batch endpoint', () => {
    expect(parse(request)).toEqual({ ok: true, customId: 'r1', body: { model: 'm', input: 'hi' } });
  });

  it('refuses a line that is not JSON', () => {
    expect(parse('{"custom_id": "r1",')).toMatchObject({ ok: false, customId: null, code: 'invalid_json_line' });
  });

  it('refuses a line that is not UTF-8', () => {
    expect(parseBatchLine(Buffer.from([0x7b, 0xff, 0x7d]), '/v1/responses', valid, MAX)).toMatchObject({ ok: false, code: 'invalid_json_line' });
  });

  it('refuses JSON that is not an object', () => {
    expect(parse([request])).toMatchObject({ ok: false, code: 'invalid_json_line' });
  });

  it('refuses a line too long to read', () => {
    expect(parse(null)).toMatchObject({ ok: false, customId: null, code: 'line_too_large' });
  });

  it('refuses a missing or empty custom_id', () => {
    expect(parse({ ...request, custom_id: '' })).toMatchObject({ ok: false, customId: null, code: 'invalid_custom_id' });
    expect(parse({ ...request, custom_id: undefined })).toMatchObject({ ok: false, code: 'invalid_custom_id' });
  });

  it('refuses a method other than POST, naming the custom_id', () => {
    expect(parse({ ...request, method: 'GET' })).toMatchObject({ ok: false, customId: 'r1', code: 'invalid_method' });
  });

  it("refuses a url other than the batch's endpoint", () => {
    expect(parse({ ...request, url: '/v1/chat/completions' })).toMatchObject({ ok: false, customId: 'r1', code: 'invalid_url' });
  });

  it('refuses a body that is not an object', () => {
    expect(parse({ ...request, body: 'hi' })).toMatchObject({ ok: false, customId: 'r1', code: 'invalid_body' });
  });

  it('refuses a streamed body', () => {
    expect(parse({ ...request, body: { ...request.body, stream: true } })).toMatchObject({ ok: false, customId: 'r1', code: 'invalid_request' });
  });

  it("refuses a body the endpoint's validation refuses, with its message", () => {
    const validate = () => {
      throw new InvalidRequestError("Unknown parameter: 'foo'.", 'foo', 'unknown_parameter');
    };
    expect(parse(request, validate)).toEqual({ ok: false, customId: 'r1', code: 'unknown_parameter', message: "Unknown parameter: 'foo'." });
  });

  it('lets an unexpected validation failure through', () => {
    const validate = () => {
      throw new TypeError('bug');
    };
    expect(() => parse(request, validate)).toThrow('bug');
  });
});
