import { isIP } from 'node:net';
import { normaliseIp } from './address.ts';

/**
 * The client's address: the TCP peer, unless the peer is a trusted proxy, in which case the right-most
 * X-Forwarded-For entry that is not itself a trusted proxy. Entries further left were written by the
 * client and prove nothing.
 */
export function clientIp(peer: string | undefined, forwardedFor: string | string[] | undefined, isTrustedProxy: (ip: string) => boolean): string {
  const direct = normaliseIp(peer ?? '');
  if (!direct || !isTrustedProxy(direct) || !forwardedFor) return direct;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normaliseIp(hops[i]!.trim());
    if (isIP(hop) === 0) return direct; // a malformed chain: believe only what we saw
    if (!isTrustedProxy(hop)) return hop;
  }
  return direct;
}
