import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { StorageError } from './errors.ts';

export const MIN_ENCRYPTION_KEY_LENGTH = 20;

// One HKDF label per purpose, so no two uses ever share a key.
const LABEL_ENCRYPTION = 'gatehouse:storage:aes-256-gcm:v1';
const LABEL_HMAC = 'gatehouse:storage:hmac-sha256:v1';
const LABEL_CHECK = 'gatehouse:storage:key-check:v1';
const CHECK_MESSAGE = 'gatehouse storage encryption key check';

const FORMAT_V1 = 0x01;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Keys derived from `storage.encryption_key`; the raw keys never leave this closure. */
export interface StorageKeys {
  /** AES-256-GCM; `aad` binds the value to where it is stored (e.g. `totp:alice`). Output: version ‖ nonce ‖ ciphertext ‖ tag. */
  encrypt(plaintext: Buffer, aad: string): Buffer;
  /** Throws StorageError('decryption_failed') if the value, its AAD or the key differ. */
  decrypt(sealed: Buffer, aad: string): Buffer;
  /** HMAC-SHA256 for lookups by a secret value (one-time codes) without storing the value. */
  hmac(data: string | Buffer): Buffer;
  /** Stored in the `encryption` table on first start: recognises the key on every later start. */
  readonly checkValue: string;
  matchesCheckValue(stored: string): boolean;
}

export function assertEncryptionKeyLength(encryption_key: string): void {
  if ([...encryption_key].length < MIN_ENCRYPTION_KEY_LENGTH) {
    throw new StorageError(
      'encryption_key_too_short',
      `storage: option 'encryption_key' must be at least ${MIN_ENCRYPTION_KEY_LENGTH} characters long`,
    );
  }
}

function derive(encryption_key: string, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(encryption_key, 'utf8'), Buffer.alloc(0), label, 32));
}

function additionalData(aad: string): Buffer {
  // the format byte is authenticated too, so a value cannot be replayed under another format
  return Buffer.concat([Buffer.of(FORMAT_V1), Buffer.from(aad, 'utf8')]);
}

function decryptionFailed(cause?: unknown): StorageError {
  return new StorageError(
    'decryption_failed',
    'storage: a stored value could not be decrypted; it was altered or written with another encryption_key',
    { cause },
  );
}

export function deriveKeys(encryption_key: string): StorageKeys {
  assertEncryptionKeyLength(encryption_key);
  // a KeyObject made once: given a Buffer, every cipher would first probe it for a key object (slow)
  const encryptionKey = createSecretKey(derive(encryption_key, LABEL_ENCRYPTION));
  const hmacKey = derive(encryption_key, LABEL_HMAC);
  const checkValue = createHmac('sha256', derive(encryption_key, LABEL_CHECK)).update(CHECK_MESSAGE).digest('base64');

  return {
    encrypt(plaintext, aad) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', encryptionKey, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(additionalData(aad));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([Buffer.of(FORMAT_V1), nonce, body, cipher.getAuthTag()]);
    },
    decrypt(sealed, aad) {
      if (sealed.length < 1 + NONCE_BYTES + TAG_BYTES || sealed[0] !== FORMAT_V1) throw decryptionFailed();
      const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
      const body = sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES);
      const tag = sealed.subarray(sealed.length - TAG_BYTES);
      try {
        const decipher = createDecipheriv('aes-256-gcm', encryptionKey, nonce, { authTagLength: TAG_BYTES });
        decipher.setAAD(additionalData(aad));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(body), decipher.final()]);
      } catch (error) {
        throw decryptionFailed(error);
      }
    },
    hmac(data) {
      return createHmac('sha256', hmacKey).update(data).digest();
    },
    checkValue,
    matchesCheckValue(stored) {
      const a = Buffer.from(stored, 'utf8');
      const b = Buffer.from(checkValue, 'utf8');
      return a.length === b.length && timingSafeEqual(a, b);
    },
  };
}
