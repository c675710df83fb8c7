/**
 * OpenID Connect client secrets as Authelia stores them: a digest (`$pbkdf2-sha512$…` or `$argon2id$…`) or,
 * discouraged, `$plaintext$<secret>`. The pbkdf2 layout is go-crypt's and passlib's:
 * `$pbkdf2-sha512$<iterations>$<salt>$<key>`, salt and key in "adapted base64" (standard alphabet with `.`
 * for `+`, no padding); `authelia crypto hash generate pbkdf2 --variant sha512` defaults to 310000
 * iterations, a 16-byte salt and a 64-byte key.
 */
import { pbkdf2, randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { hashFormatProblem, verifyPassword } from './password-hash.ts';

const pbkdf2Async = promisify(pbkdf2);

export const CLIENT_SECRET_PBKDF2 = Object.freeze({ iterations: 310_000, saltLength: 16, keyLength: 64 });

export type ClientSecretFormat = 'pbkdf2-sha512' | 'argon2id' | 'plaintext';

/** Which of the accepted formats `stored` is in, or null if Gatehouse cannot check it. Never echoes it. */
export function clientSecretFormat(stored: string): ClientSecretFormat | null {
  if (stored.startsWith('$plaintext$')) return stored.length > '$plaintext$'.length ? 'plaintext' : null;
  if (stored.startsWith('$pbkdf2-sha512$')) return hashFormatProblem(stored) === null ? 'pbkdf2-sha512' : null;
  if (stored.startsWith('$argon2id$')) return hashFormatProblem(stored) === null ? 'argon2id' : null;
  return null;
}

/** A `$pbkdf2-sha512$…` digest of `secret`, as Authelia writes and reads it. `salt` is for test vectors only. */
export async function hashClientSecret(secret: string, options: { iterations?: number; salt?: Uint8Array } = {}): Promise<string> {
  const iterations = options.iterations ?? CLIENT_SECRET_PBKDF2.iterations;
  const salt = Buffer.from(options.salt ?? randomBytes(CLIENT_SECRET_PBKDF2.saltLength));
  const key = await pbkdf2Async(Buffer.from(secret, 'utf8'), salt, iterations, CLIENT_SECRET_PBKDF2.keyLength, 'sha512');
  return `$pbkdf2-sha512$${iterations}$${adaptedBase64(salt)}$${adaptedBase64(key)}`;
}

/**
 * Whether `presented` is the secret `stored` was made from. False for a format Gatehouse cannot check
 * (the config validator refuses those before the provider starts). Comparisons are constant-time.
 */
export async function verifyClientSecret(stored: string, presented: string): Promise<boolean> {
  const format = clientSecretFormat(stored);
  if (format === null) return false;
  if (format === 'plaintext') {
    // hash both sides first so the comparison takes the same time whatever the lengths
    const a = createHash('sha256').update(stored.slice('$plaintext$'.length), 'utf8').digest();
    const b = createHash('sha256').update(presented, 'utf8').digest();
    return timingSafeEqual(a, b);
  }
  return verifyPassword(stored, presented);
}

function adaptedBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '').replaceAll('+', '.');
}
