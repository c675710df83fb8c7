/**
 * The name failures are counted under: `Alice`, `alice ` and `ａｌｉｃｅ` (full-width) share one
 * counter, so changing case or padding does not buy an attacker fresh attempts.
 */
export function normaliseUsername(username: string): string {
  return username.normalize('NFKC').trim().toLowerCase();
}
