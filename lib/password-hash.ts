import { pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import * as argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import {
  BCRYPT_MAX_COST,
  BCRYPT_MIN_COST,
  checkLength,
  constantTimeEqual,
  MAX_KEY_BYTES,
  MAX_SALT_BYTES,
  MIN_KEY_BYTES,
  MIN_SALT_BYTES,
  parseNumericParams,
  strictBase64Decode,
  UnsupportedHashError,
} from './password-hash-common.ts';
import { parseLegacyHash, verifyLegacyHash, type LegacyHash } from './password-hash-legacy.ts';

export { UnsupportedHashError } from './password-hash-common.ts';

const pbkdf2Async = promisify(pbkdf2);

/** Authelia's `authentication_backend.file.password.argon2` options (memory in KiB, lengths in bytes). */
export interface Argon2Params {
  iterations: number;
  memory: number;
  parallelism: number;
  key_length: number;
  salt_length: number;
}

/** Authelia's defaults (RFC 9106 second recommended option). */
export const DEFAULT_ARGON2_PARAMS: Readonly<Argon2Params> = Object.freeze({
  iterations: 3,
  memory: 65536,
  parallelism: 4,
  key_length: 32,
  salt_length: 16,
});

// Upper bounds so that a hostile or mistyped users file cannot make one login cost hours or all memory.
// The argon2 ones equal what the config schema accepts for authentication_backend.file.password.argon2,
// so every hash Gatehouse writes is one it will verify.
const ARGON2_MAX_MEMORY_KIB = 4_194_304; // 4 GiB
const ARGON2_MAX_ITERATIONS = 100;
const ARGON2_MAX_PARALLELISM = 64;
const PBKDF2_MAX_ITERATIONS = 10_000_000;

type Argon2Variant = 'argon2id' | 'argon2i' | 'argon2d';
type Pbkdf2Digest = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

type ParsedHash =
  | { kind: 'argon2'; variant: Argon2Variant; encoded: string; params: Argon2HashParams }
  | { kind: 'bcrypt'; encoded: string }
  | { kind: 'pbkdf2'; digest: Pbkdf2Digest; iterations: number; salt: Buffer; key: Buffer }
  | { kind: 'legacy'; legacy: LegacyHash };

const SUPPORTED_FORMATS =
  'expected $argon2id$/$argon2i$/$argon2d$, $2a$/$2b$/$2x$/$2y$ (bcrypt), $bcrypt-sha256$, $pbkdf2[-sha1|-sha224|-sha256|-sha384|-sha512]$, $scrypt$, $5$/$6$ (SHA-crypt) or pbkdf2_sha256$… (ProxMenux)';

/** Verify `password` against a stored hash. Throws UnsupportedHashError for unknown or malformed formats. */
export async function verifyPassword(encoded: string, password: string): Promise<boolean> {
  const parsed = parseHash(encoded);
  switch (parsed.kind) {
    case 'argon2':
      // argon2.verify recomputes with the stored parameters and compares with timingSafeEqual
      return argon2.verify(parsed.encoded, password);
    case 'legacy':
      return verifyLegacyHash(parsed.legacy, password);
    case 'bcrypt': {
      // $2y$ (PHP) is $2b$; $2x$ (crypt_blowfish's marker for its old 8-bit bug) and the unversioned $2$
      // are read as $2a$, as go-crypt reads them. Compute with the salt, compare the whole string.
      const normalised = parsed.encoded.replace(/^\$2y\$/, '$2b$').replace(/^\$2x?\$/, '$2a$');
      const computed = await bcrypt.hash(password, normalised.slice(0, 29));
      return constantTimeEqual(Buffer.from(computed, 'utf8'), Buffer.from(normalised, 'utf8'));
    }
    case 'pbkdf2': {
      const derived = await pbkdf2Async(
        Buffer.from(password, 'utf8'),
        parsed.salt,
        parsed.iterations,
        parsed.key.length,
        parsed.digest,
      );
      return constantTimeEqual(derived, parsed.key);
    }
  }
}

/** An argon2id PHC string in Authelia's layout: `$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>`. */
export async function hashPassword(password: string, params: Partial<Argon2Params> = {}): Promise<string> {
  const p: Argon2Params = { ...DEFAULT_ARGON2_PARAMS, ...params };
  const problem = argon2ParamsProblem(p.memory, p.iterations, p.parallelism);
  if (problem !== null) throw new RangeError(`argon2: ${problem}`);
  if (!Number.isInteger(p.salt_length) || p.salt_length < MIN_SALT_BYTES || p.salt_length > MAX_SALT_BYTES) {
    throw new RangeError(`argon2: salt_length must be between ${MIN_SALT_BYTES} and ${MAX_SALT_BYTES}`);
  }
  if (!Number.isInteger(p.key_length) || p.key_length < MIN_KEY_BYTES || p.key_length > MAX_KEY_BYTES) {
    throw new RangeError(`argon2: key_length must be between ${MIN_KEY_BYTES} and ${MAX_KEY_BYTES}`);
  }
  const salt = randomBytes(p.salt_length);
  const key = await argon2.hash(password, {
    type: argon2.argon2id,
    version: 0x13,
    timeCost: p.iterations,
    memoryCost: p.memory,
    parallelism: p.parallelism,
    hashLength: p.key_length,
    salt,
    raw: true,
  });
  return `$argon2id$v=19$m=${p.memory},t=${p.iterations},p=${p.parallelism}$${phcBase64(salt)}$${phcBase64(key)}`;
}

/** True if verifyPassword can check this hash (known format, parameters within bounds). */
export function isSupportedHash(encoded: string): boolean {
  return hashFormatProblem(encoded) === null;
}

/** Why verifyPassword would refuse this hash, or null if it is supported. Never echoes the hash. */
export function hashFormatProblem(encoded: string): string | null {
  try {
    parseHash(encoded);
    return null;
  } catch (error) {
    if (error instanceof UnsupportedHashError) return error.message;
    throw error;
  }
}

/**
 * True when the hash should be replaced now that the password is known: anything that is not a valid
 * argon2id hash (bcrypt, pbkdf2, argon2i/d) and, given the configured `params`, an argon2id hash with
 * less memory, fewer iterations, less parallelism or a shorter key than they ask for. A weaker hash is
 * also a faster one, and the difference tells an observer which usernames exist.
 */
export function needsRehash(encoded: string, params?: Partial<Argon2Params>): boolean {
  try {
    const parsed = parseHash(encoded);
    if (!(parsed.kind === 'argon2' && parsed.variant === 'argon2id')) return true;
    if (params === undefined) return false;
    const want = { ...DEFAULT_ARGON2_PARAMS, ...params };
    const have = parsed.params;
    return have.version !== 19 || have.memory < want.memory || have.iterations < want.iterations || have.parallelism < want.parallelism || have.keyLength < want.key_length;
  } catch (error) {
    if (error instanceof UnsupportedHashError) return true;
    throw error;
  }
}

/**
 * Parameters for a dummy check that costs at least what checking any of `hashes` costs: the
 * configured ones, raised to the largest memory, iterations, parallelism and key length of every
 * argon2 hash among them (each already within the bounds verifyPassword accepts). Other formats
 * are left out: they are re-hashed to argon2id on the next login.
 */
export function strongestArgon2Params(configured: Partial<Argon2Params>, hashes: Iterable<string>): Argon2Params {
  const strongest: Argon2Params = { ...DEFAULT_ARGON2_PARAMS, ...configured };
  for (const encoded of hashes) {
    let parsed: ParsedHash;
    try {
      parsed = parseHash(encoded);
    } catch {
      continue;
    }
    if (parsed.kind !== 'argon2') continue;
    const have = parsed.params;
    strongest.memory = Math.max(strongest.memory, have.memory);
    strongest.iterations = Math.max(strongest.iterations, have.iterations);
    strongest.parallelism = Math.max(strongest.parallelism, have.parallelism);
    strongest.key_length = Math.max(strongest.key_length, have.keyLength);
  }
  // more lanes need more memory (8 KiB each): keep the combination one argon2 accepts
  strongest.memory = Math.max(strongest.memory, 8 * strongest.parallelism);
  return strongest;
}

/** The parameters an argon2 PHC string was made with (what parseArgon2 read from it). */
interface Argon2HashParams {
  version: number;
  memory: number;
  iterations: number;
  parallelism: number;
  keyLength: number;
}

function parseHash(encoded: string): ParsedHash {
  if (typeof encoded !== 'string' || encoded.length === 0) throw new UnsupportedHashError('empty password hash');
  if (encoded.length > 4096) throw new UnsupportedHashError('password hash is too long');
  encoded = normalizeStoragePrefix(encoded);
  if (encoded.startsWith('$argon2')) return parseArgon2(encoded);
  if (/^\$2[abxy]?\$/.test(encoded)) return parseBcrypt(encoded);
  const legacy = parseLegacyHash(encoded);
  if (legacy !== null) return { kind: 'legacy', legacy };
  if (encoded.startsWith('$pbkdf2')) return parsePasslibPbkdf2(encoded);
  if (encoded.startsWith('pbkdf2_sha256$')) return parseProxMenuxPbkdf2(encoded);
  throw new UnsupportedHashError(`unsupported password hash format (${SUPPORTED_FORMATS})`);
}

/**
 * go-crypt's normalisation (what Authelia reads): OpenLDAP's `{CRYPT}` and `{ARGON2}` prefixes are
 * dropped, and `{PBKDF2-SHA256}<iterations>$…` is read as `$pbkdf2-sha256$<iterations>$…`.
 */
function normalizeStoragePrefix(encoded: string): string {
  let out = encoded;
  if (out.startsWith('{CRYPT}')) out = out.slice('{CRYPT}'.length);
  if (out.startsWith('{ARGON2}')) out = out.slice('{ARGON2}'.length);
  const pbkdf2 = /^\{(PBKDF2(?:-SHA\d+)?)\}(\d+\$.*)$/.exec(out);
  return pbkdf2 === null ? out : `$${pbkdf2[1]!.toLowerCase()}$${pbkdf2[2]!}`;
}

function parseArgon2(encoded: string): ParsedHash {
  const match = /^\$(argon2id|argon2i|argon2d)\$(?:v=(\d+)\$)?([a-z0-9=,]+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(encoded);
  if (match === null) throw new UnsupportedHashError('malformed argon2 hash (expected $argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>)');
  const [, variant, version, paramText, saltText, keyText] = match as unknown as [string, Argon2Variant, string | undefined, string, string, string];
  if (version !== undefined && version !== '16' && version !== '19') {
    throw new UnsupportedHashError(`unsupported argon2 version v=${version} (expected 16 or 19)`);
  }
  const params = parseNumericParams(paramText, ['m', 't', 'p'], 'argon2');
  const m = params.get('m')!;
  const t = params.get('t')!;
  const p = params.get('p')!;
  const problem = argon2ParamsProblem(m, t, p);
  if (problem !== null) throw new UnsupportedHashError(`argon2 hash: ${problem}`);
  checkLength('argon2 salt', strictBase64Decode(saltText, 'argon2 salt').length, MIN_SALT_BYTES, MAX_SALT_BYTES);
  const keyLength = strictBase64Decode(keyText, 'argon2 hash').length;
  checkLength('argon2 hash', keyLength, 4, MAX_KEY_BYTES);
  return { kind: 'argon2', variant, encoded, params: { version: version === undefined ? 16 : Number(version), memory: m, iterations: t, parallelism: p, keyLength } };
}

function argon2ParamsProblem(memory: number, iterations: number, parallelism: number): string | null {
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > ARGON2_MAX_PARALLELISM) {
    return `parallelism must be between 1 and ${ARGON2_MAX_PARALLELISM}`;
  }
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > ARGON2_MAX_ITERATIONS) {
    return `iterations must be between 1 and ${ARGON2_MAX_ITERATIONS}`;
  }
  if (!Number.isInteger(memory) || memory < 8 * parallelism || memory > ARGON2_MAX_MEMORY_KIB) {
    return `memory must be between 8 × parallelism and ${ARGON2_MAX_MEMORY_KIB} KiB`;
  }
  return null;
}

function parseBcrypt(encoded: string): ParsedHash {
  const match = /^\$2[abxy]?\$(\d\d)\$[./A-Za-z0-9]{53}$/.exec(encoded);
  if (match === null) throw new UnsupportedHashError('malformed bcrypt hash (expected $2b$<cost>$<53 characters>)');
  const cost = Number(match[1]);
  if (cost < BCRYPT_MIN_COST || cost > BCRYPT_MAX_COST) {
    throw new UnsupportedHashError(`bcrypt cost ${cost} is outside ${BCRYPT_MIN_COST}–${BCRYPT_MAX_COST}`);
  }
  return { kind: 'bcrypt', encoded };
}

const PASSLIB_DIGESTS: Record<string, Pbkdf2Digest> = {
  pbkdf2: 'sha1',
  'pbkdf2-sha1': 'sha1',
  'pbkdf2-sha224': 'sha224',
  'pbkdf2-sha256': 'sha256',
  'pbkdf2-sha384': 'sha384',
  'pbkdf2-sha512': 'sha512',
};

/** Authelia and passlib: `$pbkdf2-sha512$<iterations>$<ab64 salt>$<ab64 key>` ("adapted base64": `.` for `+`, no padding). */
function parsePasslibPbkdf2(encoded: string): ParsedHash {
  const match = /^\$([a-z0-9-]+)\$(\d{1,10})\$([A-Za-z0-9./]+)\$([A-Za-z0-9./]+)$/.exec(encoded);
  if (match === null) throw new UnsupportedHashError('malformed pbkdf2 hash (expected $pbkdf2-sha512$<iterations>$<salt>$<key>)');
  const digest = PASSLIB_DIGESTS[match[1]!];
  if (digest === undefined) throw new UnsupportedHashError(`unsupported pbkdf2 variant $${match[1]}$`);
  const iterations = checkIterations(Number(match[2]));
  const salt = strictBase64Decode(match[3]!.replaceAll('.', '+'), 'pbkdf2 salt');
  const key = strictBase64Decode(match[4]!.replaceAll('.', '+'), 'pbkdf2 key');
  checkLength('pbkdf2 salt', salt.length, 1, MAX_SALT_BYTES);
  checkLength('pbkdf2 key', key.length, MIN_KEY_BYTES, MAX_KEY_BYTES);
  return { kind: 'pbkdf2', digest, iterations, salt, key };
}

/** ProxMenux Monitor: `pbkdf2_sha256$<iterations>$<base64 salt>$<base64 key>` (standard base64 with padding). */
function parseProxMenuxPbkdf2(encoded: string): ParsedHash {
  const match = /^pbkdf2_sha256\$(\d{1,10})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/.exec(encoded);
  if (match === null) throw new UnsupportedHashError('malformed pbkdf2_sha256 hash (expected pbkdf2_sha256$<iterations>$<base64 salt>$<base64 key>)');
  const iterations = checkIterations(Number(match[1]));
  const salt = strictBase64Decode(match[2]!, 'pbkdf2_sha256 salt');
  const key = strictBase64Decode(match[3]!, 'pbkdf2_sha256 key');
  checkLength('pbkdf2_sha256 salt', salt.length, 1, MAX_SALT_BYTES);
  checkLength('pbkdf2_sha256 key', key.length, MIN_KEY_BYTES, MAX_KEY_BYTES);
  return { kind: 'pbkdf2', digest: 'sha256', iterations, salt, key };
}

function checkIterations(iterations: number): number {
  if (iterations < 1 || iterations > PBKDF2_MAX_ITERATIONS) {
    throw new UnsupportedHashError(`pbkdf2 iterations must be between 1 and ${PBKDF2_MAX_ITERATIONS}`);
  }
  return iterations;
}

function phcBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}
