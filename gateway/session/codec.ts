/**
 * Sessions are stored encrypted and authenticated (AES-256-GCM, key derived from session.secret), so
 * whoever can read or write the session store can neither read who is logged in nor forge a session.
 */
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes } from 'node:crypto';

export interface SessionCodec {
  stringify(value: unknown): string;
  parse(text: string): any;
}

const VERSION = 'g1.';

export function createSessionCodec(secret: string): SessionCodec {
  const key = createSecretKey(Buffer.from(hkdfSync('sha256', secret, 'gatehouse-session', 'session-store-encryption:v1', 32)));
  return {
    stringify(value) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
      return VERSION + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    },
    parse(text) {
      // a value that is not ours (or was tampered with) throws, and the caller treats it as no session
      if (!text.startsWith(VERSION)) throw new Error('session payload has an unknown format');
      const raw = Buffer.from(text.slice(VERSION.length), 'base64');
      if (raw.length < 29) throw new Error('session payload is truncated');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      const plain = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
      return JSON.parse(plain.toString('utf8'));
    },
  };
}
