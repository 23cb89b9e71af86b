import type { NextFunction, Request, Response } from 'express';
import { aliasRootPaths } from './root-alias';

describe('aliasRootPaths', () => {
  const rewrite = (url: string): string => {
    const req = { url } as Request;
    const next = jest.fn() as NextFunction;
    aliasRootPaths(req, {} as Response, next);
    expect(next).toHaveBeenCalledTimes(1);
    return req.url;
  };

  it.each([
    ['/responses', '/v1/responses'],
    ['/chat/completions', '/v1/chat/completions'],
    ['/containers/cntr_1/files?limit=2', '/v1/containers/cntr_1/files?limit=2'],
    ['/files?purpose=user_data', '/v1/files?purpose=user_data'],
    ['/models', '/v1/models'],
    ['/batches/b1/cancel', '/v1/batches/b1/cancel'],
    ['/webhook_endpoints', '/v1/webhook_endpoints'],
    ['/webhook_event_types', '/v1/webhook_event_types'],
  ])('serves %s as %s', (url, expected) => {
    expect(rewrite(url)).toBe(expected);
  });

  it.each([
    ['health', '/health'],
    ['a path already under /v1', '/v1/containers'],
    ['a longer first segment', '/containersx'],
    ['a resource named later in the path', '/x/containers'],
    ['the root', '/'],
  ])('leaves %s alone', (_name, url) => {
    expect(rewrite(url)).toBe(url);
  });
});
