import dns from 'node:dns';
import net from 'node:net';

/**
 * Address blocks a tenant's webhook may not reach: anything not globally reachable (IANA's
 * special-purpose registries), so a webhook cannot be aimed at this server, its network or a cloud
 * metadata service. Checked at create/update and again at connect time, since DNS can change.
 */
const V4_BLOCKS: [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared (carrier-grade NAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

const V6_BLOCKS: [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['::', 96, 'reserved (IPv4-compatible)'],
  ['64:ff9b:1::', 48, 'private (local NAT64)'],
  ['100::', 64, 'reserved (discard)'],
  ['2001::', 32, 'reserved (Teredo)'],
  ['2001:2::', 48, 'benchmarking'],
  ['2001:10::', 28, 'reserved (ORCHID)'],
  ['2001:db8::', 32, 'documentation'],
  ['3fff::', 20, 'documentation'],
  ['5f00::', 16, 'reserved (segment routing)'],
  ['fc00::', 7, 'private (unique local)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'private (site-local)'],
  ['ff00::', 8, 'multicast'],
];

/** IPv6 blocks that embed an IPv4 address (at a byte offset), judged by that address. */
const V6_EMBEDDING: [string, number, number][] = [
  ['::ffff:0:0', 96, 12], // IPv4-mapped
  ['64:ff9b::', 96, 12], // NAT64
  ['2002::', 16, 2], // 6to4
];

function v4Bytes(address: string): number[] {
  return address.split('.').map(Number);
}

function v6Bytes(address: string): number[] {
  let text = address.replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = v4Bytes(dotted[1]);
    text = text.slice(0, -dotted[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const groups = (part: string) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

function inBlock(bytes: number[], base: number[], bits: number): boolean {
  for (let i = 0; i < bits; i += 8) {
    const mask = bits - i >= 8 ? 0xff : (0xff << (8 - (bits - i))) & 0xff;
    if (((bytes[i / 8] ?? 0) & mask) !== ((base[i / 8] ?? 0) & mask)) return false;
  }
  return true;
}

/** Why `address` (an IP literal) is not a public address ('loopback', 'private', …), or null if it is one. */
export function nonPublicKind(address: string): string | null {
  if (net.isIPv4(address)) {
    const bytes = v4Bytes(address);
    return V4_BLOCKS.find(([base, bits]) => inBlock(bytes, v4Bytes(base), bits))?.[2] ?? null;
  }
  if (!net.isIPv6(address)) return 'not an IP address';
  const bytes = v6Bytes(address);
  for (const [base, bits, offset] of V6_EMBEDDING) {
    if (inBlock(bytes, v6Bytes(base), bits)) return nonPublicKind(bytes.slice(offset, offset + 4).join('.'));
  }
  return V6_BLOCKS.find(([base, bits]) => inBlock(bytes, v6Bytes(base), bits))?.[2] ?? null;
}

/** A webhook target that resolves to an address tenants may not reach. */
export class NonPublicAddressError extends Error {
  readonly code = 'ERR_NON_PUBLIC_ADDRESS';
  constructor(host: string, address: string, kind: string) {
    super(host === address ? `${address} is a ${kind} address` : `${host} resolves to ${address}, a ${kind} address`);
  }
}

/** Throws NonPublicAddressError if any of `addresses` (what `host` resolved to) is not public. */
export function assertPublic(host: string, addresses: readonly string[]): void {
  for (const address of addresses) {
    const kind = nonPublicKind(address);
    if (kind) throw new NonPublicAddressError(host, address, kind);
  }
}

/** The host of a URL as `net` takes it: IPv6 literals without their brackets. */
export function urlHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

export type ResolveAll = (host: string) => Promise<string[]>;

/** Every address the system resolver gives for `host` (what a connection would use). */
export const resolveAll: ResolveAll = async (host) => (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * Resolves the URL's host and throws NonPublicAddressError if any address it has is not public
 * (one private address is enough: a connection may pick it). A DNS failure throws as it is.
 */
export async function assertPublicUrl(url: URL, resolve: ResolveAll = resolveAll): Promise<void> {
  const host = urlHost(url);
  assertPublic(host, net.isIP(host) ? [host] : await resolve(host));
}

/**
 * A `lookup` for `http.request` that refuses non-public addresses at connect time, so the address
 * connected to is the address checked (a name re-pointed after the check cannot slip through).
 * `net` skips `lookup` for IP literals; check those with `assertPublic` first.
 */
export const publicOnlyLookup: net.LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '');
    try {
      assertPublic(hostname, addresses.map((a) => a.address));
    } catch (refused) {
      return callback(refused as NodeJS.ErrnoException, '');
    }
    const [first] = addresses;
    if (options.all) callback(null, addresses);
    else if (first) callback(null, first.address, first.family);
    else callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
  });
};
