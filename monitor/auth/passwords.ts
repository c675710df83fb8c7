/**
 * The monitor's password policy (ProxMenux's, checked on the server) and hashing: argon2id for
 * everything written, ProxMenux `pbkdf2_sha256$` (and the other formats lib/password-hash reads)
 * verified and flagged for upgrade.
 */
import { randomBytes } from 'node:crypto';
import { createPasswordCheckLimiter, type PasswordCheckLimiter } from '../../lib/password-checks.ts';
import { hashPassword, needsRehash, verifyPassword, type Argon2Params } from '../../lib/password-hash.ts';
import { clientKey } from '../../lib/net/address.ts';

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 1024;

/** ProxMenux's denylist, compared lower-cased. */
const COMMON_PASSWORDS = new Set([
  'password', 'password1', 'password123', '12345678', '123456789', '1234567890', 'qwerty', 'qwertyuiop',
  'letmein', 'welcome', 'admin', 'administrator', 'root', 'proxmox', 'proxmenux', 'changeme', 'abcdefgh',
]);

/** Why `password` is not acceptable for this account, or null. */
export function passwordPolicyProblem(password: string, username?: string | null): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `Password must be at least ${MIN_PASSWORD_LENGTH} characters long`;
  if (password.length > MAX_PASSWORD_LENGTH) return `Password must be at most ${MAX_PASSWORD_LENGTH} characters long`;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  if (classes < 3) return 'Password must contain at least 3 of: lowercase letters, uppercase letters, digits, symbols';
  const lowered = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lowered)) return 'Password is too common; choose a less predictable one';
  if (username && lowered === username.toLowerCase()) return 'Password must not be the username';
  return null;
}

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
