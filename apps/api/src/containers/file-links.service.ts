import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@cibox/config';
import { PermissionDeniedError, checkFileLink, nowSeconds, signedFileUrl } from '@cibox/contracts';
import { ContainerRepository } from '@cibox/storage';

/**
 * Default lifetime of a link: a page showing a response keeps loading its images for an hour, and
 * a response read again gets fresh links. (A container idle for 20 minutes expires anyway.)
 */
export const FILE_LINK_TTL_S = 3600;

/** Signed, expiring links to container file content, which a browser opens without the API key. */
@Injectable()
export class FileLinks {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly containers: ContainerRepository,
  ) {}

  /**
   * An absolute URL of the file's content that opens for `ttlS` seconds, on PUBLIC_BASE_URL when
   * set, else on `origin` (see requestOrigin).
   */
  sign(tenant: string, containerId: string, fileId: string, origin: string, ttlS = FILE_LINK_TTL_S): string {
    if (!Number.isInteger(ttlS) || ttlS <= 0) throw new RangeError(`ttlS must be a positive integer, got ${ttlS}`);
    const claims = { tenant, containerId, fileId, expires: nowSeconds() + ttlS };
    return signedFileUrl(this.config.signingSecret, this.config.publicBaseUrl ?? origin, claims);
  }

  /**
   * Checks a link's query parameters for the file; returns the tenant it was signed for (the
   * container's owner) and when it expires, or throws a 403.
   */
  async verify(containerId: string, fileId: string, expires: unknown, signature: unknown): Promise<{ tenant: string; expires: number }> {
    const invalid = new PermissionDeniedError('Invalid signature.', 'invalid_signature');
    if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires) || typeof signature !== 'string') throw invalid;
    // An unknown container reads as a bad signature, so a link tells its holder nothing about other ids.
    const container = await this.containers.getAny(containerId);
    if (!container) throw invalid;
    const claims = { tenant: container.tenant, containerId, fileId, expires: Number(expires) };
    const check = checkFileLink(this.config.signingSecret, claims, signature, nowSeconds());
    if (check === 'expired') throw new PermissionDeniedError('This link has expired.', 'link_expired');
    if (check !== 'valid') throw invalid;
    return { tenant: claims.tenant, expires: claims.expires };
  }
}
