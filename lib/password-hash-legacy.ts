/**
 * The hashes Authelia (go-crypt) and passlib write that Gatehouse only reads: SHA-crypt (`$5$`, `$6$`),
 * scrypt (`$scrypt$`) and bcrypt-sha256 (`$bcrypt-sha256$`, passlib's v1 and v2 layouts, v2 being
 * go-crypt's). Each is re-hashed to argon2id on the user's next login (needsRehash).
 */
import { createHash, createHmac, scrypt as scryptCallback, type ScryptOptions } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { shaCryptDigest, SHA_CRYPT_DEFAULT_ROUNDS, type ShaCryptVariant } from './sha-crypt.ts';
import {
  BCRYPT_MAX_COST,
  BCRYPT_MIN_COST,
  checkLength,
  constantTimeEqual,
  MAX_KEY_BYTES,
  MAX_SALT_BYTES,
  MIN_KEY_BYTES,
  parseNumericParams,
  strictBase64Decode,
  UnsupportedHashError,
} from './password-hash-common.ts';

export type LegacyHash =
  | { kind: 'shacrypt'; variant: ShaCryptVariant; rounds: number; salt: string; digest: string }
  | { kind: 'scrypt'; ln: number; r: number; p: number; salt: Buffer; key: Buffer }
  | { kind: 'bcrypt-sha256'; version: 1 | 2; cost: number; salt: string; digest: string };

/** Each SHA-crypt round is one hash in JavaScript: 1,000,000 is already seconds per check. */
const SHA_CRYPT_MAX_VERIFY_ROUNDS = 1_000_000;
const SCRYPT_MAX_LN = 20;
const SCRYPT_MAX_R = 32;
const SCRYPT_MAX_P = 16;
const SCRYPT_MAX_MEMORY_BYTES = 1024 * 1024 * 1024; // 128 × N × r, what one check holds at once

const CRYPT64 = '[./A-Za-z0-9]';

/** The legacy format `encoded` is written in, or null if it is none of them. Throws UnsupportedHashError if malformed. */
export function parseLegacyHash(encoded: string): LegacyHash | null {
  if (encoded.startsWith('$5$') || encoded.startsWith('$6$')) return parseShaCrypt(encoded);
  if (encoded.startsWith('$scrypt$')) return parseScrypt(encoded);
  if (encoded.startsWith('$bcrypt-sha256$')) return parseBcryptSha256(encoded);
  return null;
}

export async function verifyLegacyHash(parsed: LegacyHash, password: string): Promise<boolean> {
  const secret = Buffer.from(password, 'utf8');
  switch (parsed.kind) {
    case 'shacrypt': {
      const digest = await shaCryptDigest(parsed.variant, secret, parsed.salt, parsed.rounds);
      return constantTimeEqual(Buffer.from(digest, 'latin1'), Buffer.from(parsed.digest, 'latin1'));
    }
    case 'scrypt': {
      const n = 2 ** parsed.ln;
      const options: ScryptOptions = { N: n, r: parsed.r, p: parsed.p, maxmem: 128 * n * parsed.r + 16 * 1024 * 1024 };
      const derived = await new Promise<Buffer>((resolve, reject) => {
        scryptCallback(secret, parsed.salt, parsed.key.length, options, (error, key) => (error ? reject(error) : resolve(key)));
      });
      return constantTimeEqual(derived, parsed.key);
    }
    case 'bcrypt-sha256': {
      // v2 (passlib ≥ 1.7.3, go-crypt): HMAC-SHA256 keyed with the salt as written; v1: plain SHA-256
      const mac = parsed.version === 2 ? createHmac('sha256', parsed.salt).update(secret).digest() : createHash('sha256').update(secret).digest();
      const computed = await bcrypt.hash(mac.toString('base64'), `$2b$${String(parsed.cost).padStart(2, '0')}$${parsed.salt}`);
      return constantTimeEqual(Buffer.from(computed.slice(29), 'latin1'), Buffer.from(parsed.digest, 'latin1'));
    }
  }
}

/** `$6$[rounds=N$]<salt ≤ 16>$<86 characters>` (SHA-512) or `$5$…$<43 characters>` (SHA-256). */
function parseShaCrypt(encoded: string): LegacyHash {
  const match = new RegExp(`^\\$([56])\\$(?:rounds=(\\d{1,10})\\$)?(${CRYPT64}{0,16})\\$(${CRYPT64}+)$`).exec(encoded);
  if (match === null) throw new UnsupportedHashError('malformed SHA-crypt hash (expected $6$[rounds=N$]<salt>$<hash>)');
  const variant: ShaCryptVariant = match[1] === '5' ? 'sha256' : 'sha512';
  const digest = match[4]!;
  if (digest.length !== (variant === 'sha256' ? 43 : 86)) throw new UnsupportedHashError('malformed SHA-crypt hash (the hash part has the wrong length)');
  const rounds = match[2] === undefined ? SHA_CRYPT_DEFAULT_ROUNDS : Number(match[2]);
  if (rounds > SHA_CRYPT_MAX_VERIFY_ROUNDS) {
    throw new UnsupportedHashError(`SHA-crypt rounds must be at most ${SHA_CRYPT_MAX_VERIFY_ROUNDS}`);
  }
  return { kind: 'shacrypt', variant, rounds, salt: match[3]!, digest };
}

/** go-crypt's and passlib's `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<base64 salt>$<base64 key>`. */
function parseScrypt(encoded: string): LegacyHash {
  const match = /^\$scrypt\$([a-z0-9=,]+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(encoded);
  if (match === null) throw new UnsupportedHashError('malformed scrypt hash (expected $scrypt$ln=…,r=…,p=…$<salt>$<key>)');
  const params = parseNumericParams(match[1]!, ['ln', 'r', 'p'], 'scrypt');
  const ln = params.get('ln')!;
  const r = params.get('r')!;
  const p = params.get('p')!;
  if (ln < 1 || ln > SCRYPT_MAX_LN) throw new UnsupportedHashError(`scrypt ln must be between 1 and ${SCRYPT_MAX_LN}`);
  if (r < 1 || r > SCRYPT_MAX_R) throw new UnsupportedHashError(`scrypt r must be between 1 and ${SCRYPT_MAX_R}`);
  if (p < 1 || p > SCRYPT_MAX_P) throw new UnsupportedHashError(`scrypt p must be between 1 and ${SCRYPT_MAX_P}`);
  if (128 * 2 ** ln * r > SCRYPT_MAX_MEMORY_BYTES) throw new UnsupportedHashError('scrypt parameters need more than 1 GiB of memory');
  const salt = strictBase64Decode(match[2]!, 'scrypt salt');
  const key = strictBase64Decode(match[3]!, 'scrypt key');
  checkLength('scrypt salt', salt.length, 1, MAX_SALT_BYTES);
  checkLength('scrypt key', key.length, MIN_KEY_BYTES, MAX_KEY_BYTES);
  return { kind: 'scrypt', ln, r, p, salt, key };
}

/**
 * passlib's v2 (and go-crypt's) `$bcrypt-sha256$v=2,t=2b,r=<cost>$<22-char salt>$<31-char hash>`, and
 * passlib's v1 `$bcrypt-sha256$2b,<cost>$<salt>$<hash>`. The bcrypt minor version changes nothing for
 * the 44-character ASCII input these feed bcrypt.
 */
function parseBcryptSha256(encoded: string): LegacyHash {
  const v2 = new RegExp(`^\\$bcrypt-sha256\\$v=2,t=2[abxy],r=(\\d{1,2})\\$(${CRYPT64}{22})\\$(${CRYPT64}{31})$`).exec(encoded);
  const v1 = v2 ?? new RegExp(`^\\$bcrypt-sha256\\$2[ab],(\\d{1,2})\\$(${CRYPT64}{22})\\$(${CRYPT64}{31})$`).exec(encoded);
  if (v1 === null) throw new UnsupportedHashError('malformed bcrypt-sha256 hash (expected $bcrypt-sha256$v=2,t=2b,r=<cost>$<salt>$<hash>)');
  const cost = Number(v1[1]);
  if (cost < BCRYPT_MIN_COST || cost > BCRYPT_MAX_COST) {
    throw new UnsupportedHashError(`bcrypt cost ${cost} is outside ${BCRYPT_MIN_COST}–${BCRYPT_MAX_COST}`);
  }
  return { kind: 'bcrypt-sha256', version: v2 === null ? 1 : 2, cost, salt: v1[2]!, digest: v1[3]! };
}
