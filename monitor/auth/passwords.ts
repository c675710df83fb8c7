/**
 * The monitor's password policy (ProxMenux's, checked on the server) and hashing: argon2id for
 * everything written, ProxMenux `pbkdf2_sha256$` (and the other formats lib/password-hash reads)
 * verified and flagged for upgrade.
 */
import { randomBytes } from 'node:crypto';
import { hashPassword, needsRehash, verifyPassword as verifyStoredPassword, type Argon2Params } from '../../lib/password-hash.ts';

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
  /** The stored hash is not argon2id: replace it now that the password is known. */
  upgrade: boolean;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Verify against the stored hash; with null (no such user) spends the same time and fails. */
  verify(storedHash: string | null, password: string): Promise<PasswordCheck>;
}

/**
 * `argon2` overrides the hash parameters (tests use cheap ones; production keeps the defaults);
 * `verify` replaces lib/password-hash's verifier (tests count what it is asked).
 */
export function createPasswordHasher(argon2: Partial<Argon2Params> = {}, verifyPassword: (hash: string, password: string) => Promise<boolean> = verifyStoredPassword): PasswordHasher {
  let dummy: Promise<string> | undefined;
  const dummyHash = () => (dummy ??= hashPassword(randomBytes(24).toString('base64url'), argon2));
  return {
    hash: (password) => hashPassword(password, argon2),
    async verify(storedHash, password) {
      if (password.length > MAX_PASSWORD_LENGTH) return { ok: false, upgrade: false };
      if (storedHash === null) {
        // same work as a real check, so response time does not tell whether the user exists
        await verifyPassword(await dummyHash(), password);
        return { ok: false, upgrade: false };
      }
      const ok = await verifyPassword(storedHash, password);
      return { ok, upgrade: ok && needsRehash(storedHash) };
    },
  };
}
