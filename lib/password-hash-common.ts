import { timingSafeEqual } from 'node:crypto';
import { GatehouseError } from './errors.ts';

/** A stored password hash is in a format we cannot verify, or its parameters are out of bounds. */
export class UnsupportedHashError extends GatehouseError {
  declare readonly code: 'unsupported_hash';
  constructor(reason: string) {
    super('unsupported_hash', reason);
  }
}

export const MIN_SALT_BYTES = 8;
export const MAX_SALT_BYTES = 1024;
export const MIN_KEY_BYTES = 16;
export const MAX_KEY_BYTES = 1024;
export const BCRYPT_MIN_COST = 4;
export const BCRYPT_MAX_COST = 16; // bcryptjs is pure JS: cost 16 is already seconds per check

export function checkLength(what: string, length: number, min: number, max: number): void {
  if (length < min || length > max) throw new UnsupportedHashError(`${what} must be ${min}–${max} bytes`);
}

/** Decode standard base64 (padding optional) and refuse anything that does not round-trip: Buffer.from is lenient. */
export function strictBase64Decode(text: string, what: string): Buffer {
  const bare = text.replace(/=+$/, '');
  const decoded = Buffer.from(bare, 'base64');
  if (bare.length % 4 === 1 || decoded.toString('base64').replace(/=+$/, '') !== bare) {
    throw new UnsupportedHashError(`${what} is not valid base64`);
  }
  return decoded;
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A `key=value,key=value` parameter list with the keys `allowed`, each once, as numbers. */
export function parseNumericParams(text: string, allowed: readonly string[], what: string): Map<string, number> {
  const params = new Map<string, number>();
  for (const pair of text.split(',')) {
    const kv = /^([a-z]+)=(\d{1,10})$/.exec(pair);
    if (kv === null || !allowed.includes(kv[1]!) || params.has(kv[1]!)) {
      throw new UnsupportedHashError(`malformed ${what} parameters (expected ${allowed.map((key) => `${key}=…`).join(',')})`);
    }
    params.set(kv[1]!, Number(kv[2]));
  }
  for (const key of allowed) {
    if (!params.has(key)) throw new UnsupportedHashError(`malformed ${what} parameters (expected ${allowed.map((k) => `${k}=…`).join(',')})`);
  }
  return params;
}
