import { CanActivate, ExecutionContext, Injectable, UseGuards, applyDecorators, createParamDecorator } from '@nestjs/common';
import { SignedLinkRoute, type AuthedRequest } from '../common/auth.guard';
import { FileLinks } from './file-links.service';

/** Lets in a request that the global AuthGuard passed on without a key, if its link is valid. */
@Injectable()
export class SignedLinkGuard implements CanActivate {
  constructor(private readonly links: FileLinks) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    if (req.tenant) return true; // a valid API key
    const query = req.query as Record<string, unknown>;
    // The route's params are named `id` (container) and `fileId`.
    const { id, fileId } = req.params;
    if (typeof id !== 'string' || typeof fileId !== 'string') return false;
    const { tenant, expires } = await this.links.verify(id, fileId, query.expires, query.signature);
    req.tenant = tenant;
    req.signedLinkExpires = expires;
    return true;
  }
}

/** A container file route that opens with the API key or with a link from FileLinks.sign. */
export const AcceptsSignedLink = () => applyDecorators(SignedLinkRoute(), UseGuards(SignedLinkGuard));

/** When the request came in through a signed link: its `expires`; with a key: null. */
export const SignedLinkExpires = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): number | null => ctx.switchToHttp().getRequest<AuthedRequest>().signedLinkExpires ?? null,
);
