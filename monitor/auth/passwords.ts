/**
 * The monitor's password hashing (new passwords follow lib/password-policy.ts): argon2id for
 * everything written, ProxMenux `pbkdf2_sha256$` (and the other formats lib/password-hash reads)
 * verified and flagged for upgrade.
 */
import { randomBytes } from 'node:crypto';
import { createPasswordCheckLimiter, type PasswordCheckLimiter } from '../../lib/password-checks.ts';
import { hashPassword, needsRehash, verifyPassword, type Argon2Params } from '../../lib/password-hash.ts';
import { clientKey } from '../../lib/net/address.ts';
import { MAX_PASSWORD_LENGTH } from '../../lib/password-policy.ts';

export interface PasswordCheck {
  ok: boolean;
  /** The stored hash is not argon2id, or weaker than the configured parameters: replace it now that the password is known. */
  upgrade: boolean;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /**
   * Verify against the stored hash, for the client at `client` (an address; absent: one shared
   * budget for every caller that names none); with null (no such user)
   * spends the same time and fails. Throws PasswordChecksBusy, unchecked, when too many checks are in
   * flight (the process's one limiter, unknown users included).
   */
  verify(storedHash: string | null, password: string, client?: string): Promise<PasswordCheck>;
  /** The gate every verification goes through (its stats are exported as metrics). */
  readonly limiter: PasswordCheckLimiter;
}

export interface PasswordHasherOptions {
  limiter?: PasswordCheckLimiter;
  /** Replaces lib/password-hash's verifier (tests count or hold the calls). */
  verifyPassword?: (encoded: string, password: string) => Promise<boolean>;
}

/** `argon2` overrides the hash parameters (tests use cheap ones; production keeps the defaults). */
export function createPasswordHasher(argon2: Partial<Argon2Params> = {}, options: PasswordHasherOptions = {}): PasswordHasher {
  let dummy: Promise<string> | undefined;
  // made with the configured parameters: an unknown user costs what the real one does
  const dummyHash = () => (dummy ??= hashPassword(randomBytes(24).toString('base64url'), argon2));
  const limiter = options.limiter ?? createPasswordCheckLimiter();
  const verify = options.verifyPassword ?? verifyPassword;
  return {
    limiter,
    hash: (password) => hashPassword(password, argon2),
    async verify(storedHash, password, client) {
      if (password.length > MAX_PASSWORD_LENGTH) return { ok: false, upgrade: false };
      const dummyFor = storedHash === null ? await dummyHash() : null;
      return limiter.run(client === undefined ? 'unnamed' : clientKey(client), async () => {
        if (dummyFor !== null) {
          // same work as a real check, so response time does not tell whether the user exists
          await verify(dummyFor, password);
          return { ok: false, upgrade: false };
        }
        const ok = await verify(storedHash!, password);
        return { ok, upgrade: ok && needsRehash(storedHash!, argon2) };
      });
    },
  };
}
