import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata, createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { APP_CONFIG, hashKey, type AppConfig } from '@cibox/config';
import { AuthenticationError } from '@cibox/contracts';

const PUBLIC = 'cibox:public';
/** Marks a route that needs no API key (health). */
export const Public = () => SetMetadata(PUBLIC, true);

type AuthedRequest = Request & { tenant?: string };

/** Bearer-key auth; each key is its own tenant. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  canActivate(ctx: ExecutionContext): boolean {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, [ctx.getHandler(), ctx.getClass()])) return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw new AuthenticationError('You didn\'t provide an API key. Pass it as `Authorization: Bearer <key>`.');
    const tenant = this.config.apiKeyTenants.get(hashKey(match[1]));
    if (!tenant) throw new AuthenticationError();
    req.tenant = tenant;
    return true;
  }
}

/** The tenant that the request's key belongs to. */
export const Tenant = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  const tenant = ctx.switchToHttp().getRequest<AuthedRequest>().tenant;
  if (!tenant) throw new AuthenticationError();
  return tenant;
});
