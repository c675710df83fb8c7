/**
 * Checking a one-time password typed at the second-factor step (a TOTP code or a recovery code), the
 * same way for the JSON API and the pages: regulated (reserve before the check, settle after, so the
 * attempt is recorded for every instance; the regulator refuses guessing once wrong codes, with those
 * in flight, reach `regulation.max_retries` within `find_time`), audited, and on success the session is upgraded
 * (completeSecondFactor: new id, AMR `otp`: a recovery code is a one-time password too).
 */
import type { Request } from 'express';
import type { UserDetails } from '../users/provider.ts';
import { checkTotpCode } from '../secondfactor/totp.ts';
import { normaliseRecoveryCode } from '../secondfactor/recovery-codes.ts';
import { requestIp, type PortalDeps } from './deps.ts';
import { completeSecondFactor } from './second-factor-session.ts';

export type CodeKind = 'totp' | 'recovery_code';

export type CodeCheck =
  | { ok: true; step?: number }
  | { ok: false; reason: 'invalid' | 'not_registered' }
  /** banned, or too many wrong codes in a row: `until` is when to try again (absent: until revoked) */
  | { ok: false; reason: 'locked_out'; until?: number };

export type CheckDeps = Pick<PortalDeps, 'regulator' | 'storage' | 'audit' | 'isTrustedProxy' | 'now' | 'secondFactor' | 'logger'>;

/**
 * Used TOTP steps are kept this long, then forgotten: a code is valid within
 * (2 × skew + 1) periods of its step, at most 21 × 300 s with the widest settings, so a day is far
 * beyond any replay.
 */
const TOTP_HISTORY_KEPT_MS = 24 * 3_600_000;

/** The request the code was typed for, as the authentication log records it. */
export interface CodeTarget {
  uri: string;
  method: string;
}

export async function checkSecondFactorCode(deps: CheckDeps, req: Request, user: UserDetails, kind: CodeKind, code: string, target: CodeTarget): Promise<CodeCheck> {
  const ip = requestIp(req, deps);
  const method = kind;
  const attempt = { username: user.username, ip, authType: kind, requestUri: target.uri, requestMethod: target.method };
  const reservation = await deps.regulator.reserve(attempt);
  if (!reservation.admitted) {
    // banned, or max_retries wrong codes in a row (or that many being checked right now): refused unchecked
    deps.audit.failure({ rhost: ip, user: user.username, method, reason: reservation.ban.banned ? 'banned' : 'too many wrong second-factor codes' });
    return { ok: false, reason: 'locked_out', ...(reservation.ban.until !== undefined ? { until: reservation.ban.until } : {}) };
  }
  const outcome = await deps.regulator.checkReserved(reservation, () => (kind === 'totp' ? checkTotp(deps, user, code) : checkRecoveryCode(deps, user, code)));
  if (!outcome.ok && outcome.reason === 'not_registered') {
    // nothing was checked: not an attempt at guessing
    await deps.regulator.cancel(reservation);
    deps.audit.failure({ rhost: ip, user: user.username, method, reason: 'no such second factor registered' });
    return outcome;
  }
  await deps.regulator.settle(reservation, { ...attempt, successful: outcome.ok });
  if (!outcome.ok) {
    deps.audit.failure({ rhost: ip, user: user.username, method, reason: outcome.reason === 'invalid' ? 'wrong or already used code' : outcome.reason });
    return outcome;
  }
  await completeSecondFactor(req, 'otp', deps.now(), { sessions: deps.storage.userSessions, ip });
  deps.audit.success({ rhost: ip, user: user.username, method });
  return outcome;
}

async function checkTotp(deps: CheckDeps, user: UserDetails, code: string): Promise<CodeCheck> {
  const config = await deps.storage.totp.load(user.username);
  if (!config || deps.secondFactor.totp.disable) return { ok: false, reason: 'not_registered' };
  const now = deps.now();
  const result = await checkTotpCode(deps.storage.totp, config, code.trim(), now, deps.secondFactor.totp.skew);
  // each accepted code adds a row to the replay guard; the successes also keep it short
  if (result.ok) await deps.storage.totp.pruneHistory(now - TOTP_HISTORY_KEPT_MS).catch((error: unknown) => deps.logger.warn({ err: error }, 'second factor: old TOTP steps could not be forgotten'));
  // a replayed code is answered as a wrong one: the difference tells an onlooker nothing useful
  return result.ok ? { ok: true, step: result.step } : { ok: false, reason: 'invalid' };
}

async function checkRecoveryCode(deps: CheckDeps, user: UserDetails, code: string): Promise<CodeCheck> {
  // deny: codes stand in for a method the user lost; with every method disabled a two_factor rule stays
  // unreachable, and codes made earlier (or after an e-mailed elevation) must not open it
  if (deps.secondFactor.totp.disable && deps.secondFactor.webauthn.disable) return { ok: false, reason: 'not_registered' };
  if ((await deps.storage.recoveryCodes.remaining(user.username)) === 0) return { ok: false, reason: 'not_registered' };
  const normalised = normaliseRecoveryCode(code);
  if (normalised === null) return { ok: false, reason: 'invalid' };
  return (await deps.storage.recoveryCodes.consume(user.username, normalised, deps.now())) ? { ok: true } : { ok: false, reason: 'invalid' };
}
