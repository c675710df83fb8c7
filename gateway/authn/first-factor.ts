/**
 * The one password check every entrance uses (portal login, Basic credentials): the attempt is
 * counted against its client's share of the password-check limiter as it arrives (before any database
 * work), reserved with regulation (atomically, so parallel guesses cannot all pass the ban check),
 * checked by the backend behind the limiter, then settled and audited. A banned attempt, and the
 * failure that brings a ban, say `lockedOut` (the portal page tells the person how long; Basic and the
 * JSON API answer it like a wrong password); one that only waits for the same account's attempts in
 * flight waits for them (bounded), then is answered `busy` (429), never as a wrong password.
 */
import { clientKey } from '../../lib/net/address.ts';
import { PasswordChecksBusy, type PasswordCheckLimiter, type PasswordCheckTicket } from '../../lib/password-checks.ts';
import type { AuditLog } from '../log/audit.ts';
import type { GatewayMetrics } from '../metrics/metrics.ts';
import type { AttemptContext, Regulator, Reservation } from '../regulation/regulator.ts';
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
export type FirstFactorResult =
  | { ok: true; user: UserDetails }
  | { ok: false; busy?: { retryAfterSeconds: number; message: string }; lockedOut?: LockedOut };

/**
 * A ban is in force for the login or the address (`until`: ms epoch, absent while it lasts until
 * revoked). Unknown logins are counted and banned like accounts, so it reveals nothing about them.
 */
export interface LockedOut {
  until?: number;
}

export interface FirstFactor {
  verify(attempt: FirstFactorAttempt): Promise<FirstFactorResult>;
  /** Attempts waiting for the same account's or address's attempts in flight to settle. */
  stats(): { waitingForAttempts: number };
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
  /**
   * How an attempt waits between tries while only attempts in flight stand in its way (default: a
   * timer). It also wakes at every settle in this process; the timer catches other instances' settles.
   */
  sleep?: (ms: number) => Promise<void>;
}

/** How often an attempt waiting for attempts in flight tries its reservation again (other instances' settles). */
export const IN_FLIGHT_POLL_MS = 250;

const timer = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export function createFirstFactor(users: Pick<UserProvider, 'verifyPassword'>, regulator: Regulator, audit: AuditLog, options: FirstFactorOptions): FirstFactor {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? timer;
  const fail = async (startedAt: number, lockedOut?: LockedOut): Promise<FirstFactorResult> => {
    const wait = startedAt + options.minFailureDelayMs - now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return lockedOut === undefined ? { ok: false } : { ok: false, lockedOut };
  };
  const lockedOut = (ban: { until?: number }): LockedOut => (ban.until === undefined ? {} : { until: ban.until });
  let waitingForAttempts = 0;
  const busy = (a: FirstFactorAttempt, error: PasswordChecksBusy, why: string): FirstFactorResult => {
    options.metrics?.attempt(a.method, 'busy');
    audit.refused({ rhost: a.ip, user: a.username, method: a.method, reason: why });
    return { ok: false, busy: { retryAfterSeconds: error.retryAfterSeconds, message: error.message } };
  };
  /**
   * Reserves the attempt; while only attempts in flight stand in its way (the failures so far do not
   * reach max_retries), waits for them to settle and tries again, for at most the limiter's max_wait.
   */
  const reserve = async (context: AttemptContext): Promise<Reservation> => {
    const { maxWaitMs } = options.limiter.limits;
    const deadline = now() + maxWaitMs;
    // counted as well as timed: an injected clock that stands still cannot make it wait forever
    let tries = Math.ceil(maxWaitMs / IN_FLIGHT_POLL_MS);
    let reservation = await regulator.reserve(context);
    if (reservation.admitted || reservation.reason !== 'attempts_in_flight') return reservation;
    // counted as waiting until it leaves the loop (its tries again included), so the count is steady
    waitingForAttempts++;
    try {
      while (!reservation.admitted && reservation.reason === 'attempts_in_flight' && tries-- > 0 && now() < deadline) {
        await Promise.race([regulator.nextSettle(), sleep(Math.min(IN_FLIGHT_POLL_MS, Math.max(0, deadline - now())))]);
        reservation = await regulator.reserve(context);
      }
    } finally {
      waitingForAttempts--;
    }
    return reservation;
  };

  return {
    stats: () => ({ waitingForAttempts }),
    async verify(a) {
      const startedAt = now();
      if (a.username.length === 0 || a.username.length > MAX_USERNAME || a.password.length > MAX_PASSWORD) {
        audit.failure({ rhost: a.ip, user: a.username.slice(0, 64), method: a.method, reason: 'malformed credentials' });
        return fail(startedAt);
      }
      // counted from here, before any database work: one client cannot hold more than its share of
      // transactions, locks and pooled connections, whatever it sends
      let ticket: PasswordCheckTicket;
      try {
        ticket = options.limiter.admit(clientKey(a.ip));
      } catch (error) {
        if (!(error instanceof PasswordChecksBusy)) throw error;
        return busy(a, error, `too many password checks in flight (${error.reason})`);
      }
      try {
        const authType = a.method === 'portal' ? '1fa' : 'basic';
        const context = { username: a.username, ip: a.ip, authType, requestUri: a.requestUri, requestMethod: a.requestMethod } as const;
        // reserved before any hash: a banned user, or one with max_retries attempts already failed or in
        // flight, is not worth a password hash (an attacker could spend our CPU on it); the answer is
        // padded to the same minimum delay below, so skipping it shows in no timing
        const reservation = await reserve(context);
        if (!reservation.admitted) {
          if (reservation.reason === 'attempts_in_flight') {
            // not a wrong password: the same account's (or address's) attempts are still being checked
            const error = new PasswordChecksBusy('wait', Math.max(1, Math.ceil(options.limiter.limits.maxWaitMs / 1000)));
            return busy(a, error, 'too many attempts in flight for this account or address');
          }
          options.metrics?.attempt(a.method, 'banned');
          audit.failure({ rhost: a.ip, user: a.username, method: a.method, reason: 'banned' });
          return fail(startedAt, lockedOut(reservation.ban));
        }
        let user: UserDetails | null;
        try {
          user = await ticket.check(() => users.verifyPassword(a.username, a.password));
        } catch (error) {
          await regulator.cancel(reservation);
          if (!(error instanceof PasswordChecksBusy)) throw error;
          return busy(a, error, `too many password checks in flight (${error.reason})`);
        }
        const after = await regulator.settle(reservation, { ...context, successful: user !== null });
        options.metrics?.attempt(a.method, user !== null ? 'success' : 'failure');
        if (user !== null) {
          if (!a.deferSuccessAudit) audit.success({ rhost: a.ip, user: user.username, method: a.method });
          return { ok: true, user };
        }
        audit.failure({ rhost: a.ip, user: a.username, method: a.method, reason: 'bad credentials' });
        return fail(startedAt, after.banned ? lockedOut(after) : undefined);
      } finally {
        ticket.release();
      }
    },
  };
}
