import { normaliseIp } from '../../lib/net/address.ts';

/**
 * The name failures are counted under: `Alice`, `alice ` and `ａｌｉｃｅ` (full-width) share one
 * counter, so changing case or padding does not buy an attacker fresh attempts.
 */
export function normaliseUsername(username: string): string {
  return username.normalize('NFKC').trim().toLowerCase();
}

/** The name an address's failures and bans are kept under (`gatehouse regulation unban IP` uses it too). */
export function ipSubject(ip: string): string {
  return normaliseIp(ip);
}
