import { createHash, type Hash } from 'node:crypto';

/**
 * SHA-crypt (`$5$` SHA-256, `$6$` SHA-512), as Ulrich Drepper's specification
 * (https://www.akkadia.org/drepper/SHA-crypt.txt) defines it and glibc, passlib and go-crypt compute it.
 * Only verification needs it: Gatehouse writes argon2id and re-hashes these on the next login.
 */

export type ShaCryptVariant = 'sha256' | 'sha512';

/** crypt's own base64 alphabet (not RFC 4648's order). */
const CRYPT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export const SHA_CRYPT_DEFAULT_ROUNDS = 5000;
const SHA_CRYPT_MIN_ROUNDS = 1000;
const SHA_CRYPT_MAX_ROUNDS = 999_999_999;

// The byte triples (B2, B1, B0) the final encoding takes from the digest, in order, then the tail.
const SHA512_ORDER: ReadonlyArray<readonly [number, number, number]> = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
];
const SHA256_ORDER: ReadonlyArray<readonly [number, number, number]> = [
  [0, 10, 20], [21, 1, 11], [12, 22, 2], [3, 13, 23], [24, 4, 14],
  [15, 25, 5], [6, 16, 26], [27, 7, 17], [18, 28, 8], [9, 19, 29],
];

/** Rounds checked between two yields to the event loop, so that one slow hash does not stall the others. */
const ROUNDS_PER_SLICE = 2000;

/**
 * The encoded digest (43 characters for SHA-256, 86 for SHA-512) of `password` with `salt` (the salt
 * text as written in the hash, at most 16 characters are used) and `rounds` (clamped to the spec's
 * 1000–999,999,999 as every implementation does).
 */
export async function shaCryptDigest(variant: ShaCryptVariant, password: Uint8Array, salt: string, rounds: number): Promise<string> {
  const size = variant === 'sha256' ? 32 : 64;
  const hash = (): Hash => createHash(variant);
  const p = Buffer.from(password);
  const s = Buffer.from(salt, 'utf8').subarray(0, 16);
  const r = Math.min(Math.max(rounds, SHA_CRYPT_MIN_ROUNDS), SHA_CRYPT_MAX_ROUNDS);

  // B = H(P S P)
  const b = hash().update(p).update(s).update(p).digest();
  // A = H(P S, B repeated to |P| bytes, then per bit of |P|: B for 1, P for 0)
  const a = hash().update(p).update(s);
  let remaining = p.length;
  for (; remaining > size; remaining -= size) a.update(b);
  a.update(b.subarray(0, remaining));
  for (let length = p.length; length > 0; length >>= 1) a.update(length & 1 ? b : p);
  let c = a.digest();

  // DP = H(P × |P|) → the P sequence; DS = H(S × (16 + A[0])) → the S sequence
  const dp = hash();
  for (let i = 0; i < p.length; i++) dp.update(p);
  const pSeq = repeatTo(dp.digest(), p.length);
  const ds = hash();
  for (let i = 0; i < 16 + c[0]!; i++) ds.update(s);
  const sSeq = repeatTo(ds.digest(), s.length);

  for (let i = 0; i < r; i++) {
    if (i > 0 && i % ROUNDS_PER_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const round = hash();
    round.update(i & 1 ? pSeq : c);
    if (i % 3 !== 0) round.update(sSeq);
    if (i % 7 !== 0) round.update(pSeq);
    round.update(i & 1 ? c : pSeq);
    c = round.digest();
  }

  let out = '';
  for (const [b2, b1, b0] of variant === 'sha256' ? SHA256_ORDER : SHA512_ORDER) out += encode24(c[b2]!, c[b1]!, c[b0]!, 4);
  out += variant === 'sha256' ? encode24(0, c[31]!, c[30]!, 3) : encode24(0, 0, c[63]!, 2);
  return out;
}

function repeatTo(block: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let offset = 0; offset < length; offset += block.length) block.copy(out, offset, 0, Math.min(block.length, length - offset));
  return out;
}

function encode24(b2: number, b1: number, b0: number, chars: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = '';
  for (let i = 0; i < chars; i++) {
    out += CRYPT_ALPHABET[w & 0x3f];
    w >>= 6;
  }
  return out;
}
