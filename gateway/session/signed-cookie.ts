/**
 * express-session's cookie value: `s:<sid>.<base64 HMAC-SHA256(secret, sid) without padding>`.
 * The forward-auth hot path reads it without running express-session, so the check lives here too.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/** The signing key, imported once: importing a raw secret on every request costs more than the HMAC. */
export function cookieSigningKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret, 'utf8'));
}

function signature(sid: string, key: KeyObject | string): string {
  return createHmac('sha256', key).update(sid).digest('base64').replace(/=+$/, '');
}

export function signSessionId(sid: string, key: KeyObject | string): string {
  return `s:${sid}.${signature(sid, key)}`;
}

/** The session id if the signature is valid, else null. */
export function unsignSessionId(value: string, key: KeyObject | string): string | null {
  if (!value.startsWith('s:')) return null;
  const dot = value.lastIndexOf('.');
  if (dot < 3) return null;
  const sid = value.slice(2, dot);
  const given = Buffer.from(value.slice(dot + 1));
  const expected = Buffer.from(signature(sid, key));
  return given.length === expected.length && timingSafeEqual(given, expected) ? sid : null;
}

/** The value of cookie `name` in a Cookie header, decoded; null if absent or malformed. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) {
      let value = header.slice(eq + 1, end).trim();
      if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      try {
        return decodeURIComponent(value);
      } catch {
        return null;
      }
    }
    start = end + 1;
  }
  return null;
}
