/**
 * TOTP for the gateway's second factor (RFC 6238 through otplib): the options a user may register
 * with (`totp.*`), a new key with its `otpauth://` URI and base32 secret, the QR code of that URI, and
 * checking a code against a stored configuration with the shared replay guard (storage.totp's
 * `totp_history`: one row per user and step, so a code is accepted once across every instance).
 * otplib and qrcode are loaded when first used: most gateway processes never check a code.
 */
import { randomBytes } from 'node:crypto';
import type { TotpSettings } from '../config/second-factor-schema.ts';
import type { TotpAlgorithm, TotpConfiguration, TotpRepository } from '../storage/totp.ts';

/** What registration may choose, in Authelia's `TOTPOptions` shape (GET /api/secondfactor/totp/register). */
export interface TotpOptions {
  algorithm: TotpAlgorithm;
  algorithms: TotpAlgorithm[];
  length: number;
  lengths: number[];
  period: number;
  periods: number[];
}

/** The defaults first, then the other allowed values (the config validator refuses a default not allowed). */
export function totpOptions(settings: TotpSettings): TotpOptions {
  const withDefault = <T>(value: T, list: readonly T[]) => [value, ...list.filter((v) => v !== value)];
  return {
    algorithm: settings.algorithm,
    algorithms: withDefault(settings.algorithm, settings.allowed_algorithms),
    length: settings.digits,
    lengths: withDefault<number>(settings.digits, settings.allowed_digits),
    period: settings.period,
    periods: withDefault(settings.period, settings.allowed_periods),
  };
}

export interface TotpChoice {
  algorithm?: string;
  length?: number;
  period?: number;
}

/** A key being registered: kept in the session until a code proves the authenticator has it. */
export interface PendingTotp {
  issuer: string;
  algorithm: TotpAlgorithm;
  digits: number;
  period: number;
  /** base32, as the user may type it into an app */
  secret: string;
  /** ms epoch after which the registration must start again */
  expires: number;
}

/** How long a started registration may wait for its first code (Authelia: 10 minutes). */
export const PENDING_TOTP_MS = 10 * 60_000;

/** null when the choice is not one `totp.allowed_*` permits, or TOTP is disabled. */
export function chooseTotpParameters(settings: TotpSettings, choice: TotpChoice = {}): Pick<PendingTotp, 'algorithm' | 'digits' | 'period'> | null {
  // `totp.disable`: nobody registers an app (and any stored one is not accepted either)
  if (settings.disable) return null;
  const options = totpOptions(settings);
  const algorithm = (choice.algorithm ?? options.algorithm).toUpperCase() as TotpAlgorithm;
  const digits = choice.length ?? options.length;
  const period = choice.period ?? options.period;
  if (!options.algorithms.includes(algorithm) || !options.lengths.includes(digits) || !options.periods.includes(period)) return null;
  return { algorithm, digits, period };
}

async function base32() {
  const { ScureBase32Plugin } = await import('otplib');
  return new ScureBase32Plugin();
}

export async function newPendingTotp(settings: TotpSettings, parameters: Pick<PendingTotp, 'algorithm' | 'digits' | 'period'>, nowMs: number): Promise<PendingTotp> {
  const secret = (await base32()).encode(randomBytes(settings.secret_size)).replace(/=+$/, '');
  return { issuer: settings.issuer, ...parameters, secret, expires: nowMs + PENDING_TOTP_MS };
}

export async function secretBytes(base32Secret: string): Promise<Buffer> {
  return Buffer.from((await base32()).decode(base32Secret));
}

/** The `otpauth://totp/…` URI authenticator apps read from the QR code. */
export async function otpauthUri(pending: Pick<PendingTotp, 'issuer' | 'algorithm' | 'digits' | 'period' | 'secret'>, username: string): Promise<string> {
  const { generateURI } = await import('otplib');
  return generateURI({
    issuer: pending.issuer,
    label: username,
    secret: pending.secret,
    algorithm: pending.algorithm.toLowerCase() as 'sha1' | 'sha256' | 'sha512',
    digits: pending.digits as 6 | 8,
    period: pending.period,
  });
}

/**
 * The URI's QR code as SVG markup, inlined in the page: the portal's CSP allows images from 'self'
 * only, and inline SVG is markup, not an image load, so the policy stays as strict as it is.
 */
export async function qrCodeSvg(uri: string): Promise<string> {
  const { default: QRCode } = await import('qrcode');
  return QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}

/**
 * The time step whose code `token` is, within `skew` steps either side of now, or null. The digits
 * must be exactly the configured number (no trimming, no other characters).
 */
export async function matchingStep(config: Pick<TotpConfiguration, 'secret' | 'algorithm' | 'digits' | 'period'>, token: string, nowMs: number, skew: number): Promise<number | null> {
  if (!new RegExp(`^\\d{${config.digits}}$`).test(token)) return null;
  const { verify } = await import('otplib');
  try {
    const result = await verify({
      secret: new Uint8Array(config.secret),
      token,
      algorithm: config.algorithm.toLowerCase() as 'sha1' | 'sha256' | 'sha512',
      digits: config.digits as 6 | 8,
      period: config.period,
      epoch: Math.floor(nowMs / 1000),
      epochTolerance: skew * config.period,
    });
    return result.valid && 'timeStep' in result ? result.timeStep : null;
  } catch {
    // a token or secret otplib refuses is a wrong code, not an error of the gateway
    return null;
  }
}

export type TotpOutcome = { ok: true; step: number } | { ok: false; reason: 'invalid' | 'replayed' };

/** Checks `token` and records its step: a code already accepted (here or on another instance) is refused. */
export async function checkTotpCode(
  totp: Pick<TotpRepository, 'markStepUsed'>,
  config: Pick<TotpConfiguration, 'username' | 'secret' | 'algorithm' | 'digits' | 'period'>,
  token: string,
  nowMs: number,
  skew: number,
): Promise<TotpOutcome> {
  const step = await matchingStep(config, token, nowMs, skew);
  if (step === null) return { ok: false, reason: 'invalid' };
  return (await totp.markStepUsed(config.username, step, nowMs)) ? { ok: true, step } : { ok: false, reason: 'replayed' };
}
