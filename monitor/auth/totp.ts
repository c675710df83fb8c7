/**
 * Second factor: TOTP (RFC 6238: SHA1, 6 digits, 30 s, ±1 step) with a replay guard on
 * `last_totp_counter`, and single-use backup codes `XXXX-XXXX` stored as sha256 (ProxMenux's form;
 * 40 random bits per code, so a fast hash is enough: the file that holds them also holds the TOTP
 * secret itself).
 */
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { generateSecret, generateURI, verifySync } from 'otplib';
import QRCode from 'qrcode';
import type { AuthState, StoredBackupCode } from './store.ts';

export const TOTP_ISSUER = 'Gatehouse Monitor';
export const TOTP_PERIOD_SECONDS = 30;
export const BACKUP_CODE_COUNT = 10;
/** No 0/O, 1/I: codes are read off paper. */
const BACKUP_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

export function newTotpSecret(): string {
  return generateSecret();
}

export function provisioningUri(username: string, secret: string): string {
  return generateURI({ issuer: TOTP_ISSUER, label: username, secret });
}

/** The provisioning URI as a PNG data URL for an `<img>` (ProxMenux's `qr_code`). */
export function qrCodeDataUrl(uri: string): Promise<string> {
  return QRCode.toDataURL(uri, { errorCorrectionLevel: 'M', margin: 2, scale: 4 });
}

export type TotpCheck = { ok: true; counter: number } | { ok: false; reason: 'invalid' | 'replayed' };

/** Check a 6-digit code; `lastCounter` is the step of the last accepted code (null: none yet). */
export function checkTotp(secret: string, code: string, lastCounter: number | null, nowMs: number): TotpCheck {
  if (!/^\d{6}$/.test(code)) return { ok: false, reason: 'invalid' };
  let result;
  try {
    result = verifySync({ secret, token: code, epoch: Math.floor(nowMs / 1000), period: TOTP_PERIOD_SECONDS, epochTolerance: TOTP_PERIOD_SECONDS });
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  if (!result.valid || !('timeStep' in result)) return { ok: false, reason: 'invalid' };
  if (lastCounter !== null && result.timeStep <= lastCounter) return { ok: false, reason: 'replayed' };
  return { ok: true, counter: result.timeStep };
}

export function hashBackupCode(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}

/** `abcd efgh`, `ABCDEFGH` and `abcd-efgh` all mean `ABCD-EFGH`; null if it is not shaped like a code. */
export function normaliseBackupCode(input: string): string | null {
  const bare = input.replace(/[\s-]/g, '').toUpperCase();
  if (!/^[A-Z0-9]{8}$/.test(bare)) return null;
  return `${bare.slice(0, 4)}-${bare.slice(4)}`;
}

export function generateBackupCodes(count = BACKUP_CODE_COUNT): { codes: string[]; stored: StoredBackupCode[] } {
  const codes: string[] = [];
  for (let i = 0; i < count; i++) {
    let code = '';
    for (let j = 0; j < 8; j++) code += BACKUP_ALPHABET[randomInt(BACKUP_ALPHABET.length)];
    codes.push(`${code.slice(0, 4)}-${code.slice(4)}`);
  }
  return { codes, stored: codes.map((code) => ({ code: hashBackupCode(code), used: false })) };
}

/** Index of the stored code matching `input` (used or not), or -1. Compares every entry in constant time. */
export function findBackupCode(stored: readonly StoredBackupCode[], input: string): number {
  const normalised = normaliseBackupCode(input);
  if (normalised === null) return -1;
  const wanted = Buffer.from(hashBackupCode(normalised), 'hex');
  let found = -1;
  stored.forEach((entry, i) => {
    const candidate = Buffer.from(entry.code, 'hex');
    if (candidate.length === wanted.length && timingSafeEqual(candidate, wanted) && found === -1) found = i;
  });
  return found;
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
