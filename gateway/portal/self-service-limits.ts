/**
 * The rate limits of the self-service flows (e-mailed codes and links), one set per portal: a page and
 * its JSON twin share a budget, so switching between them buys no extra guesses.
 */
import { createRateLimiter, type RateLimiter } from '../../lib/rate-limit.ts';
import type { PortalDeps } from './deps.ts';

const MINUTE = 60_000;

export interface SelfServiceLimits {
  /** Reset requests, counted each (one mail each): per name as typed and per address. */
  resetStart: RateLimiter;
  /**
   * Reset mails per account, counted after the lookup (off the response path, so it tells nothing):
   * an account asked for by its username and by each e-mail address still gets no more mails.
   */
  resetMail: RateLimiter;
  /** Reset links and elevation revocations that were not valid: per address. */
  tokenChecks: RateLimiter;
  /** Elevation codes mailed: per user and per address. */
  codeSend: RateLimiter;
  /** Wrong elevation codes: per user and per address, so 8 characters cannot be guessed. */
  codeCheck: RateLimiter;
}

export const SELF_SERVICE_LIMITS = {
  resetStart: 'reset: 3 per user, 10 per IP / 15 min',
  tokenChecks: 'bad links: 10 per IP / 5 min',
  codeSend: 'codes mailed: 5 per user, 20 per IP / 15 min',
  codeCheck: 'wrong codes: 5 per user, 10 per IP / 5 min',
} as const;

const byDeps = new WeakMap<object, SelfServiceLimits>();

export function selfServiceLimits(deps: Pick<PortalDeps, 'now'>): SelfServiceLimits {
  let limits = byDeps.get(deps);
  if (!limits) {
    const now = deps.now;
    limits = {
      resetStart: createRateLimiter({ perUser: { max: 3, windowMs: 15 * MINUTE }, perIp: { max: 10, windowMs: 15 * MINUTE }, now }),
      // keyed by the account in both tables (see password-reset.ts): no address is involved
      resetMail: createRateLimiter({ perUser: { max: 3, windowMs: 15 * MINUTE }, perIp: { max: 3, windowMs: 15 * MINUTE }, now }),
      tokenChecks: createRateLimiter({ perIp: { max: 10, windowMs: 5 * MINUTE }, now }),
      codeSend: createRateLimiter({ perUser: { max: 5, windowMs: 15 * MINUTE }, perIp: { max: 20, windowMs: 15 * MINUTE }, now }),
      codeCheck: createRateLimiter({ perUser: { max: 5, windowMs: 5 * MINUTE }, perIp: { max: 10, windowMs: 5 * MINUTE }, now }),
    };
    byDeps.set(deps, limits);
  }
  return limits;
}

/** "try again in N minutes" for a limited request. */
export function retryMinutes(seconds: number): number {
  return Math.max(1, Math.ceil(seconds / 60));
}
