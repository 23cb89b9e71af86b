import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { NonPublicAddressError, assertPublic, publicOnlyLookup, urlHost } from './public-address';

export interface SendOptions {
  /** The whole attempt, connection to response headers. */
  timeoutMs: number;
  /** Refuse non-public addresses (a tenant's endpoint, unless the operator allows private targets). */
  publicOnly: boolean;
}

export interface SendOutcome {
  /** The receiver's status; null when none came. */
  statusCode: number | null;
  /** Why the attempt failed without a status (timeout, connection error, refused address), else null. */
  error: string | null;
  /** The target's address is not public (and `publicOnly` was asked): retrying will not help. */
  refused: boolean;
  durationMs: number;
}

/** 2xx is a delivery; anything else (redirects included, which are not followed) is a failed attempt. */
export const delivered = (o: SendOutcome) => o.statusCode !== null && o.statusCode >= 200 && o.statusCode < 300;

/**
 * POSTs one signed event. One fresh connection per attempt (no pooled socket outlives the address
 * check), no redirects, nothing read past the status line: a receiver can only make us wait
 * `timeoutMs`. Never throws: the outcome says what happened.
 */
export function sendWebhook(target: string, body: string, headers: Record<string, string>, opts: SendOptions): Promise<SendOutcome> {
  const started = Date.now();
  const outcome = (statusCode: number | null, err: Error | null): SendOutcome => ({
    statusCode,
    error: err?.message ?? null,
    refused: err instanceof NonPublicAddressError,
    durationMs: Date.now() - started,
  });
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(target);
      if (opts.publicOnly && net.isIP(urlHost(url))) assertPublic(urlHost(url), [urlHost(url)]);
    } catch (err) {
      return resolve(outcome(null, err as Error));
    }
    const request = url.protocol === 'https:' ? https.request : http.request;
    const req = request(url, {
      method: 'POST',
      agent: false,
      lookup: opts.publicOnly ? publicOnlyLookup : undefined,
      headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'cibox-webhooks/1' },
    });
    const timer = setTimeout(() => req.destroy(new Error(`no response within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.once('response', (res) => {
      clearTimeout(timer);
      res.on('error', () => undefined);
      res.destroy();
      req.destroy();
      resolve(outcome(res.statusCode ?? null, null));
    });
    // `on`, not `once`: destroying the request after its response may still emit an error.
    req.on('error', (err) => {
      clearTimeout(timer);
      resolve(outcome(null, err));
    });
    req.end(body);
  });
}
