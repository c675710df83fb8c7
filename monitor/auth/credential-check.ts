/**
 * The credential checks behind the monitor's account API and its SETUP_CODE and ADMIN_REAUTH guards:
 * rate limits taken before any hash, the password behind the process's password-check limiter, the
 * re-entered password and 2FA code before a credential change, and the audit line of every outcome.
 * Each answers the request itself when it refuses (429, 400, 401, 403), so a route only goes on when
 * it got a value back.
 */
import type { Request, Response } from 'express';
import { InternalError } from '../../lib/errors.ts';
import { PasswordChecksBusy } from '../../lib/password-checks.ts';
import type { RateLimitAttempt } from '../../lib/rate-limit.ts';
import { bodyOf, fail, type Body } from '../api/json-api.ts';
import type { MonitorAuthDeps } from './deps.ts';
import type { PasswordCheck } from './passwords.ts';
import { consumeSecondFactor, type SecondFactorCheck } from './second-factor.ts';
import { hasCredentials, type AuthState } from './store.ts';

export type SecondFactorProblem = Exclude<SecondFactorCheck, { ok: true }>['reason'];

const SETUP_CODE_REQUIRED = "Setup code required: see the monitor's log";

/** Why a credential change did not happen (inside AuthStore.update, so nothing was written). */
export interface Refusal {
  ok: false;
  message: string;
  reason?: SecondFactorProblem;
}

export const SECOND_FACTOR_MESSAGES: Record<SecondFactorProblem, string> = {
  missing: '2FA code required',
  invalid: 'Invalid 2FA code',
  replayed: '2FA code already used; wait for the next one',
};

export function createCredentialChecks(deps: MonitorAuthDeps) {
  const { store, audit, rateLimiter, passwords, setupCode } = deps;

  /** The one 429 of every credential limit: audited, with Retry-After. */
  const tooMany = (req: Request, res: Response, user: string | null, method: string, retryAfterSeconds: number, message = 'Too many attempts. Please wait and try again.'): void => {
    audit.rateLimited({ rhost: req.clientIp!, user, method, retryAfterSeconds });
    res.set('Retry-After', String(retryAfterSeconds));
    fail(res, 429, message, { retry_after: retryAfterSeconds });
  };

  /** Answers 429 and returns true when this client or user must wait. */
  const limited = (req: Request, res: Response, user: string | null, method: string): boolean => {
    const decision = rateLimiter.check({ ip: req.clientIp!, user });
    if (!decision.limited) return false;
    tooMany(req, res, user, method, decision.retryAfterSeconds);
    return true;
  };

  /** Counts the attempt before it is checked (see RateLimiter.reserve); answers 429 and returns null when limited. */
  const reserve = (req: Request, res: Response, user: string | null, method: string): Extract<RateLimitAttempt, { limited: false }> | null => {
    const attempt = rateLimiter.reserve({ ip: req.clientIp!, user });
    if (!attempt.limited) return attempt;
    tooMany(req, res, user, method, attempt.retryAfterSeconds);
    return null;
  };

  /**
   * The password checked behind the process's password-check limiter. Too many checks in flight:
   * answers 429 with Retry-After (nothing was checked, so nothing is counted) and returns null.
   */
  const checkPassword = async (req: Request, res: Response, storedHash: string | null, password: string, user: string | null, method: string): Promise<PasswordCheck | null> => {
    try {
      return await passwords.verify(storedHash, password, req.clientIp!);
    } catch (error) {
      if (!(error instanceof PasswordChecksBusy)) throw error;
      tooMany(req, res, user, method, error.retryAfterSeconds, error.message);
      return null;
    }
  };

  /** A wrong credential: counted for the rate limit (unless a reservation already counts it) and written for Fail2Ban. */
  const failed = (req: Request, user: string | null, method: string, reason: string, reserved = false): void => {
    if (!reserved) rateLimiter.fail({ ip: req.clientIp!, user });
    audit.failure({ rhost: req.clientIp!, user, method, reason });
  };

  /** The caller may act on an unconfigured monitor: a full_admin identity, or the setup code from the log. */
  const setupProven = (req: Request): boolean => req.identity?.scope === 'full_admin' || setupCode.matches(bodyOf(req).setup_code);

  /** An audited 403: reaching the port is not enough to claim the monitor. */
  const refuseSetup = (req: Request, res: Response, method: string): void => {
    failed(req, null, method, 'bad_setup_code');
    res.status(403).json({ success: false, error: SETUP_CODE_REQUIRED, message: SETUP_CODE_REQUIRED });
  };

  const succeeded = (req: Request, user: string | null, method: string): void => {
    audit.success({ rhost: req.clientIp!, user, method });
  };

  /**
   * The re-entered password of the local account, rate limited and audited. Answers and returns null
   * on any problem; returns the state it checked against otherwise.
   */
  const confirmPassword = async (
    req: Request,
    res: Response,
    method: string,
    password: string | undefined,
    wrongStatus: 400 | 401 = 400,
  ): Promise<AuthState | null> => {
    const state = await store.read();
    if (!hasCredentials(state)) {
      fail(res, 400, 'Authentication is not configured');
      return null;
    }
    // reserved before the slow check so parallel guesses cannot all pass the limit (released when right)
    const attempt = reserve(req, res, state.username, method);
    if (!attempt) return null;
    if (!password) {
      attempt.release();
      fail(res, 400, 'Password required');
      return null;
    }
    const check = await checkPassword(req, res, state.password_hash, password, state.username, method);
    if (check === null) {
      attempt.release();
      return null;
    }
    if (!check.ok) {
      failed(req, state.username, method, 'bad_password', true);
      fail(res, wrongStatus, method === 'change_password' ? 'Current password is incorrect' : 'Invalid password');
      return null;
    }
    attempt.release();
    return state;
  };

  /** Within an update: the password hash is still the one checked, else someone changed it meanwhile. */
  const unchanged = (draft: AuthState, checked: AuthState) => draft.password_hash === checked.password_hash && draft.username === checked.username;

  /**
   * Within an update, before a credential change: the account is still the one whose password was
   * checked and, with 2FA on, `code` is valid and now spent. Null when the change may go ahead.
   */
  const refusal = (draft: AuthState, checked: AuthState, code: string | undefined): Refusal | null => {
    if (!unchanged(draft, checked)) return { ok: false, message: 'The account changed meanwhile; try again' };
    if (!draft.totp_enabled) return null;
    const second = consumeSecondFactor(draft, code, deps.now());
    return second.ok ? null : { ok: false, message: SECOND_FACTOR_MESSAGES[second.reason], reason: second.reason };
  };

  /** Answer a refusal; a wrong or reused code counts as a failed credential. */
  const refuse = (req: Request, res: Response, user: string | null, method: string, r: Refusal, status = 400, extra: Body = {}): void => {
    if (r.reason === 'invalid' || r.reason === 'replayed') failed(req, user, method, r.reason === 'replayed' ? 'code_reused' : 'bad_2fa_code');
    fail(res, status, r.message, extra);
  };

  return { limited, reserve, checkPassword, failed, setupProven, refuseSetup, succeeded, confirmPassword, unchanged, refusal, refuse };
}

export type CredentialChecks = ReturnType<typeof createCredentialChecks>;

/** Where the SETUP_CODE guard leaves whether the caller proved it may set up an unconfigured monitor. */
const SETUP_PROVEN = 'setupProven';

export function markSetupProven(res: Response, proven: boolean): void {
  res.locals[SETUP_PROVEN] = proven;
}

/**
 * Whether the SETUP_CODE guard saw a setup code or a full_admin caller. The guard read the state
 * earlier than the handler's update does: an update that finds the monitor unconfigured (it was
 * reset meanwhile) asks this again instead of trusting the guard's "already configured".
 */
export function setupProven(res: Response): boolean {
  return res.locals[SETUP_PROVEN] === true;
}

/** Where the ADMIN_REAUTH guard leaves the account state the re-entered password was checked against. */
const REAUTHENTICATED = 'reauthenticated';

export function markReauthenticated(res: Response, state: AuthState): void {
  res.locals[REAUTHENTICATED] = state;
}

/** The state the ADMIN_REAUTH guard checked the password against; only rows behind that guard ask. */
export function reauthenticated(res: Response): AuthState {
  const state: unknown = res.locals[REAUTHENTICATED];
  if (state === undefined) throw new InternalError('route_table_invalid', 'reauthenticated(): the route is not behind the ADMIN_REAUTH guard');
  return state as AuthState;
}
