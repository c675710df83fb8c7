/**
 * The one password check every entrance uses (portal login, Basic credentials): the attempt is
 * reserved with regulation first (atomically, so parallel guesses cannot all pass the ban check),
 * then the backend checks the password behind the process's password-check limiter, then the attempt
 * is settled and audited. A refused or banned attempt is answered exactly like a wrong password.
 */
import { normaliseIp } from '../../lib/net/address.ts';
import { PasswordChecksBusy, type PasswordCheckLimiter } from '../../lib/password-checks.ts';
import type { AuditLog } from '../log/audit.ts';
import type { GatewayMetrics } from '../metrics/metrics.ts';
import type { Regulator } from '../regulation/regulator.ts';
import type { UserDetails, UserProvider } from '../users/provider.ts';

export interface FirstFactorAttempt {
  username: string;
  password: string;
  ip: string;
  method: 'portal' | 'basic';
  requestUri: string;
  requestMethod: string;
  /** The caller audits the success itself once the session it makes is saved (a portal login). */
  deferSuccessAudit?: boolean;
}

/**
 * `busy`: the password was not checked because too many checks are in flight; the answer is 429 with
 * Retry-After, at once (it says nothing about the user, so it needs no padding).
 */
export type FirstFactorResult = { ok: true; user: UserDetails } | { ok: false; busy?: { retryAfterSeconds: number; message: string } };

export interface FirstFactor {
  verify(attempt: FirstFactorAttempt): Promise<FirstFactorResult>;
}

const MAX_USERNAME = 256;
const MAX_PASSWORD = 1024;

export interface FirstFactorOptions {
  metrics?: GatewayMetrics;
  /** Every failure is answered no sooner than this after the attempt began, whatever failed. */
  minFailureDelayMs: number;
  now?: () => number;
  /** Every password check of the process goes through it (bounded concurrency, queue, per client). */
  limiter: PasswordCheckLimiter;
}

export function createFirstFactor(users: UserProvider, regulator: Regulator, audit: AuditLog, options: FirstFactorOptions): FirstFactor {
  const now = options.now ?? Date.now;
  const fail = async (startedAt: number): Promise<FirstFactorResult> => {
    const wait = startedAt + options.minFailureDelayMs - now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return { ok: false };
  };
  return {
    async verify(a) {
      const startedAt = now();
      if (a.username.length === 0 || a.username.length > MAX_USERNAME || a.password.length > MAX_PASSWORD) {
        audit.failure({ rhost: a.ip, user: a.username.slice(0, 64), method: a.method, reason: 'malformed credentials' });
        return fail(startedAt);
      }
      const authType = a.method === 'portal' ? '1fa' : 'basic';
      const context = { username: a.username, ip: a.ip, authType, requestUri: a.requestUri, requestMethod: a.requestMethod } as const;
      // reserved before any hash: a banned user, or one with max_retries attempts already failed or in
      // flight, is not worth a password hash (an attacker could spend our CPU on it); the answer is
      // padded to the same minimum delay below, so skipping it shows in no timing
      const reservation = await regulator.reserve(context);
      if (!reservation.admitted) {
        options.metrics?.attempt(a.method, 'banned');
        audit.failure({ rhost: a.ip, user: a.username, method: a.method, reason: reservation.reason === 'banned' ? 'banned' : 'too many attempts in flight' });
        return fail(startedAt);
      }
      let user: UserDetails | null;
      try {
        user = await options.limiter.run(normaliseIp(a.ip), () => users.checkPassword(a.username, a.password));
      } catch (error) {
        await regulator.cancel(reservation);
        if (!(error instanceof PasswordChecksBusy)) throw error;
        options.metrics?.attempt(a.method, 'busy');
        audit.refused({ rhost: a.ip, user: a.username, method: a.method, reason: `too many password checks in flight (${error.reason})` });
        return { ok: false, busy: { retryAfterSeconds: error.retryAfterSeconds, message: error.message } };
      }
      await regulator.settle(reservation, { ...context, successful: user !== null });
      options.metrics?.attempt(a.method, user !== null ? 'success' : 'failure');
      if (user !== null) {
        if (!a.deferSuccessAudit) audit.success({ rhost: a.ip, user: user.username, method: a.method });
        return { ok: true, user };
      }
      audit.failure({ rhost: a.ip, user: a.username, method: a.method, reason: 'bad credentials' });
      return fail(startedAt);
    },
  };
}
