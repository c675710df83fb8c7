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

/** `onInvalid` hears of values that fail to decrypt; they read as no session (the user logs in again). */
export function createSessionCodec(secret: string, onInvalid: (reason: string) => void = () => {}): SessionCodec {
  const key = createSecretKey(Buffer.from(hkdfSync('sha256', secret, 'gatehouse-session', 'session-store-encryption:v1', 32)));
  return {
    stringify(value) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
      return VERSION + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    },
    parse(text) {
      // a value that is not ours (written without the secret, or tampered with) is no session at all
      if (!text.startsWith(VERSION)) {
        onInvalid('unknown format');
        return null;
      }
      const raw = Buffer.from(text.slice(VERSION.length), 'base64');
      if (raw.length < 29) {
        onInvalid('truncated');
        return null;
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
        decipher.setAuthTag(raw.subarray(12, 28));
        const plain = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
        return JSON.parse(plain.toString('utf8'));
      } catch {
        onInvalid('does not decrypt with session.secret');
        return null;
      }
    },
  };
}
