import { isIPv4 } from 'node:net';

/**
 * The name failures are counted under: `Alice`, `alice ` and `ａｌｉｃｅ` (full-width) share one
 * counter, so changing case or padding does not buy an attacker fresh attempts.
 */
export function normaliseUsername(username: string): string {
  return username.normalize('NFKC').trim().toLowerCase();
}

/** `::ffff:192.0.2.1` is the IPv4 peer 192.0.2.1 on a dual-stack socket; count it as such. */
export function normaliseIp(ip: string): string {
  const text = ip.trim().toLowerCase();
  const mapped = /^::ffff:(.+)$/.exec(text)?.[1];
  return mapped !== undefined && isIPv4(mapped) ? mapped : text;
}
