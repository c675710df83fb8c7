/**
 * The second-factor core both services can use: TOTP (RFC 6238: SHA1, 6 digits, 30 s, ±1 step) with
 * a replay check against the step of the last accepted code, its provisioning URI and QR code, and
 * single-use backup codes `XXXX-XXXX` kept as sha256 (40 random bits per code, so a fast hash is
 * enough: whatever stores them also stores the TOTP secret itself). Where the secret, the last step
 * and the codes are kept is the caller's business.
 */
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { generateSecret, generateURI, verifySync } from 'otplib';
import QRCode from 'qrcode';

const TOTP_PERIOD_SECONDS = 30;
const BACKUP_CODE_COUNT = 10;
/** No 0/O, 1/I: codes are read off paper. */
const BACKUP_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** A backup code as stored: its sha256 (hex) and whether it was spent. */
export type StoredBackupCode = { code: string; used: boolean };

export function newTotpSecret(): string {
  return generateSecret();
}

/** The `otpauth://` URI an authenticator app reads: `issuer` names the service, `label` the account. */
export function provisioningUri(issuer: string, label: string, secret: string): string {
  return generateURI({ issuer, label, secret });
}

/** The provisioning URI as a PNG data URL for an `<img>`. */
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

function hashBackupCode(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}

/** `abcd efgh`, `ABCDEFGH` and `abcd-efgh` all mean `ABCD-EFGH`; null if it is not shaped like a code. */
export function normaliseBackupCode(input: string): string | null {
  const bare = input.replace(/[\s-]/g, '').toUpperCase();
  if (!/^[A-Z0-9]{8}$/.test(bare)) return null;
  return `${bare.slice(0, 4)}-${bare.slice(4)}`;
}

/** `codes` are shown to the user once; `stored` is what is kept. */
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
