import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import type { AuthedRequest } from '../common/auth.guard';
import { QuotasService } from './quotas.service';

/** After AuthGuard: counts the request against its tenant's `requests_per_minute`. */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(private readonly quotas: QuotasService) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const tenant = ctx.switchToHttp().getRequest<AuthedRequest>().tenant;
    // Public routes and signed links have no key to count against.
    if (!tenant) return true;
    ctx.switchToHttp().getResponse<Response>().set(await this.quotas.countRequest(tenant));
    return true;
  }
}
