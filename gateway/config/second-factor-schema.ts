/**
 * The second-factor sections, in Authelia 4.39's key names and with its defaults except where noted:
 * `totp`, `webauthn`, `identity_validation` and `default_2fa_method`.
 */
import { z } from 'zod';
import { duration } from '../../lib/config-fields.ts';

export const TOTP_ALGORITHMS = ['SHA1', 'SHA256', 'SHA512'] as const;
export const SECOND_FACTOR_METHODS = ['totp', 'webauthn', 'mobile_push'] as const;

const algorithm = z.preprocess((v) => (typeof v === 'string' ? v.toUpperCase() : v), z.enum(TOTP_ALGORITHMS));
const digits = z.union([z.literal(6), z.literal(8)]);

export const totp = z.strictObject({
  disable: z.boolean().default(false),
  /** The name authenticator apps show above the account (Authelia's default is `Authelia`). */
  issuer: z.string().min(1).max(100).default('Gatehouse'),
  algorithm: algorithm.default('SHA1'),
  digits: digits.default(6),
  period: z.number().int().min(15).max(300).default(30),
  /** Steps accepted either side of now. */
  skew: z.number().int().min(0).max(10).default(1),
  /** Bytes of the shared secret (Authelia's default, 32; RFC 4226 asks for at least 16). */
  secret_size: z.number().int().min(20).max(64).default(32),
  /** What a user may choose at registration; the defaults above are always allowed. */
  allowed_algorithms: z.array(algorithm).default(['SHA1']),
  allowed_digits: z.array(digits).default([6]),
  allowed_periods: z.array(z.number().int().min(15).max(300)).default([30]),
  /** Accepted for Authelia files; Gatehouse always refuses a code used twice (true warns: NO_EFFECT in validate/not-yet-supported.ts). */
  disable_reuse_security_policy: z.boolean().default(false),
});

const userVerification = z.enum(['discouraged', 'preferred', 'required']);

export const webauthn = z.strictObject({
  disable: z.boolean().default(false),
  /** The relying party name browsers show. */
  display_name: z.string().min(1).max(100).default('Gatehouse'),
  attestation_conveyance_preference: z.enum(['none', 'indirect', 'direct']).default('indirect'),
  /** Authelia ≤ 4.38 spelling; `selection_criteria.user_verification` wins when both are set. */
  user_verification: userVerification.optional(),
  timeout: duration('60s'),
  selection_criteria: z
    .strictObject({
      attachment: z.enum(['', 'platform', 'cross-platform']).default(''),
      discoverability: z.enum(['discouraged', 'preferred', 'required']).default('preferred'),
      user_verification: userVerification.default('preferred'),
    })
    .prefault({}),
  /** Sign in with a passkey alone, without typing a password (Authelia's default is off; ours is on). */
  enable_passkey_login: z.boolean().default(true),
  /**
   * A passkey sign-in where the authenticator verified the user (PIN, biometrics) counts as two factors.
   * Authelia calls this experimental and leaves it off; Gatehouse turns it on: the authenticator has
   * proven possession and a knowledge or inherence factor.
   */
  experimental_enable_passkey_uv_two_factors: z.boolean().default(true),
  /**
   * Accepted for Authelia files (metadata service, authenticator filters); Gatehouse does not implement them: refused when they
   * would refuse an authenticator, else a warning (validate/not-yet-supported.ts).
   */
  metadata: z.unknown().optional(),
  filtering: z.unknown().optional(),
  /** Authelia's upgrade of a stored credential to a passkey: not implemented, a warning when true (NO_EFFECT in validate/not-yet-supported.ts). */
  experimental_enable_passkey_upgrade: z.boolean().optional(),
});

export const identityValidation = z.strictObject({
  elevated_session: z
    .strictObject({
      /** How long an e-mailed one-time code works. */
      code_lifespan: duration('5m'),
      /** How long a session stays elevated after the code (or a second factor) proved the user. */
      elevation_lifespan: duration('10m'),
      /** Length of the one-time code (Authelia's default, 8). */
      characters: z.number().int().min(6).max(20).default(8),
      /** Require a second factor, not only the e-mailed code, for users who have one. */
      require_second_factor: z.boolean().default(false),
      /** A user who has a second factor elevates with it instead of an e-mailed code. */
      skip_second_factor: z.boolean().default(false),
    })
    .prefault({}),
  reset_password: z
    .strictObject({
      jwt_lifespan: duration('5m'),
      jwt_algorithm: z.enum(['HS256', 'HS384', 'HS512']).default('HS256'),
      /** Signs reset links; generated per run when absent (links then end at a restart). */
      jwt_secret: z.string().min(1).optional(),
    })
    .prefault({}),
});

/** The method the second-factor step offers first to a user who has not chosen one. */
export const defaultSecondFactorMethod = z.enum(['', ...SECOND_FACTOR_METHODS]).default('');

export type TotpSettings = z.output<typeof totp>;
export type WebauthnSettings = z.output<typeof webauthn>;
export type IdentityValidationSettings = z.output<typeof identityValidation>;
