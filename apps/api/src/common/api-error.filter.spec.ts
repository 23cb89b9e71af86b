import { NotFoundException } from '@nestjs/common';
import {
  AuthenticationError,
  CapacityError,
  ContainerExpiredError,
  InvalidRequestError,
  ModelNotConfiguredError,
  ModelNotFoundError,
  NotFoundError,
  PayloadTooLargeError,
  PermissionDeniedError,
  RateLimitError,
  ServiceUnavailableError,
  UpstreamError,
} from '@cibox/contracts';
import { toErrorResponse } from './api-error.filter';

describe('toErrorResponse', () => {
  const cases: [string, unknown, number, Partial<{ type: string; param: string | null; code: string | null; message: string }>][] = [
    ['InvalidRequestError', new InvalidRequestError('bad', 'name', 'invalid_value'), 400, { type: 'invalid_request_error', param: 'name', code: 'invalid_value' }],
    ['AuthenticationError', new AuthenticationError(), 401, { code: 'invalid_api_key', param: null }],
    ['PermissionDeniedError', new PermissionDeniedError('This link has expired.', 'link_expired'), 403, { type: 'invalid_request_error', code: 'link_expired', param: null }],
    ['NotFoundError', new NotFoundError('Container', 'cntr_x'), 404, { message: "Container with id 'cntr_x' not found." }],
    ['PayloadTooLargeError', new PayloadTooLargeError(10), 413, { param: 'file', code: 'file_too_large' }],
    ['ContainerExpiredError', new ContainerExpiredError(), 400, { message: 'Container is expired.' }],
    ['ServiceUnavailableError', new ServiceUnavailableError('busy'), 503, { type: 'server_error' }],
    ['UpstreamError', new UpstreamError('The model upstream at example.com did not answer.'), 502, { type: 'api_error', code: 'upstream_error' }],
    ['ModelNotConfiguredError', new ModelNotConfiguredError(), 503, { type: 'server_error', param: 'model', code: 'model_not_configured' }],
    ['ModelNotFoundError', new ModelNotFoundError('llama9'), 404, { param: 'model', code: 'model_not_found' }],
    ['RateLimitError', new RateLimitError('Rate limit reached.', 'requests', 3, 1500), 429, { type: 'requests', code: 'rate_limit_exceeded', param: null }],
    ['CapacityError', new CapacityError('4g'), 429, { type: 'server_error', code: 'capacity_exceeded', param: null }],
    ['Nest 404 (unknown route)', new NotFoundException(), 404, { code: 'unknown_url' }],
    ['malformed JSON', Object.assign(new SyntaxError('x'), { type: 'entity.parse.failed', status: 400 }), 400, { code: 'invalid_json' }],
    ['body too large', Object.assign(new Error('x'), { type: 'entity.too.large', status: 413 }), 413, { code: 'request_too_large' }],
  ];

  it.each(cases)('maps %s', (_name, err, status, fields) => {
    const res = toErrorResponse(err);
    expect(res.status).toBe(status);
    expect(Object.keys(res.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(res.body.error).toMatchObject(fields);
  });

  it('hides the details of an unknown error behind a 500', () => {
    const res = toErrorResponse(new Error('connection string with password=hunter2'));
    expect(res.status).toBe(500);
    expect(res.body.error.message).not.toContain('hunter2');
    expect(res.body.error.type).toBe('server_error');
  });
});

describe('RateLimitError', () => {
  it('carries OpenAI\'s x-ratelimit headers and a retry-after rounded up to whole seconds', () => {
    expect(new RateLimitError('over', 'executions', 4, 1500).headers).toEqual({
      'x-ratelimit-limit-executions': '4',
      'x-ratelimit-remaining-executions': '0',
      'x-ratelimit-reset-executions': '2s',
      'retry-after': '2',
    });
  });
});
