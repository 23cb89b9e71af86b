import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata, createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { APP_CONFIG, hashKey, type AppConfig } from '@cibox/config';
import { AuthenticationError } from '@cibox/contracts';
import { LogContext } from '@cibox/queue';

const PUBLIC = 'cibox:public';
/** Marks a route that needs no API key (health). */
export const Public = () => SetMetadata(PUBLIC, true);

const SIGNED_LINK = 'cibox:signed-link';
/**
 * Marks a route that also opens with a signed link instead of a key; use it only through a
 * decorator that adds the guard checking the link (containers/signed-link.guard.ts).
 */
export const SignedLinkRoute = () => SetMetadata(SIGNED_LINK, true);

export type AuthedRequest = Request & {
  tenant?: string;
  /** Set when a signed link, not a key, let the request in: the link's `expires` (unix seconds). */
  signedLinkExpires?: number;
};

/** Bearer-key auth; each key is its own tenant. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly log: LogContext,
  ) {}

  canActivate(ctx: ExecutionContext): boolean {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, targets)) return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const tenant = match?.[1] ? this.config.apiKeyTenants.get(hashKey(match[1])) : undefined;
    if (tenant) {
      req.tenant = tenant;
      this.log.assign({ tenant });
      return true;
    }
    // A valid key wins; without one, a request carrying a link goes on to the route's link guard.
    const query = req.query as Record<string, unknown>;
    if (this.reflector.getAllAndOverride<boolean>(SIGNED_LINK, targets) && ('signature' in query || 'expires' in query)) return true;
    if (!match?.[1]) throw new AuthenticationError('You didn\'t provide an API key. Pass it as `Authorization: Bearer <key>`.');
    throw new AuthenticationError();
  }
}

/** The tenant that the request's key (or signed link) belongs to. */
export const Tenant = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  const tenant = ctx.switchToHttp().getRequest<AuthedRequest>().tenant;
  if (!tenant) throw new AuthenticationError();
  return tenant;
});
