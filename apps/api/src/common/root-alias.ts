import type { NextFunction, Request, Response } from 'express';

/**
 * The top-level resources of the OpenAI API that we serve (or will) under `/v1`. Clients configured
 * with a base URL that lacks `/v1` (as some gateways document it: `base_url="http://host:4000"`) call
 * them at the root. Not `health`, nor anything else of ours outside the OpenAI API.
 */
export const V1_RESOURCES = ['batches', 'chat', 'containers', 'files', 'models', 'responses', 'webhook_endpoints', 'webhook_event_types'] as const;

const ROOT_RESOURCE = new RegExp(`^/(?:${V1_RESOURCES.join('|')})(?=[/?]|$)`);

/** Express middleware, before Nest's router: serves `/containers/…` as `/v1/containers/…`, and so on. */
export function aliasRootPaths(req: Request, _res: Response, next: NextFunction): void {
  if (ROOT_RESOURCE.test(req.url)) req.url = `/v1${req.url}`;
  next();
}
