/**
 * The local account's second factor, as auth.json keeps it: the TOTP secret, the step of the last
 * accepted code (so a code works once) and the backup codes. The TOTP and backup-code rules
 * themselves are lib/totp.ts.
 */
import { checkTotp, findBackupCode } from '../../lib/totp.ts';
import type { AuthState } from './store.ts';

/** The issuer authenticator apps show next to the account. */
export const TOTP_ISSUER = 'Gatehouse Monitor';

/** No 2FA enrolment, active or pending: what setup, decline and disable leave in auth.json. */
export function noSecondFactor() {
  return { totp_enabled: false, totp_secret: null, last_totp_counter: null, backup_codes: [], totp_pending: null };
}

export type SecondFactorCheck =
  | { ok: true; method: 'totp' | 'backup_code' }
  | { ok: false; reason: 'missing' | 'invalid' | 'replayed' };

/**
 * Check a TOTP or backup code against the active enrolment and consume it (records the counter or
 * marks the backup code used) in `draft`. Call inside AuthStore.update so two requests cannot both
 * spend the same code.
 */
export function consumeSecondFactor(draft: AuthState, code: string | undefined, nowMs: number): SecondFactorCheck {
  const given = (code ?? '').trim();
  if (given === '') return { ok: false, reason: 'missing' };
  if (draft.totp_secret === null) return { ok: false, reason: 'invalid' };
  if (/^\d{6}$/.test(given)) {
    const check = checkTotp(draft.totp_secret, given, draft.last_totp_counter, nowMs);
    if (!check.ok) return check;
    draft.last_totp_counter = check.counter;
    return { ok: true, method: 'totp' };
  }
  const index = findBackupCode(draft.backup_codes, given);
  const entry = index === -1 ? undefined : draft.backup_codes[index];
  if (entry === undefined) return { ok: false, reason: 'invalid' };
  if (entry.used) return { ok: false, reason: 'replayed' };
  entry.used = true;
  return { ok: true, method: 'backup_code' };
}
