import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deriveKeys } from '../../../gateway/storage/encryption.ts';
import { StorageError } from '../../../gateway/storage/errors.ts';
import { TEST_KEY } from './backends.ts';

const secret = Buffer.from('JBSWY3DPEHPK3PXP', 'utf8');

function assertDecryptionFails(work: () => unknown): void {
  assert.throws(work, (error: unknown) => {
    assert.ok(error instanceof StorageError);
    assert.equal(error.code, 'decryption_failed');
    return true;
  });
}

describe('values encrypted at rest (AES-256-GCM) decrypt only unchanged, in place, with the same key', () => {
  const keys = deriveKeys(TEST_KEY);

  it('round-trips, and never stores the plaintext', () => {
    const sealed = keys.encrypt(secret, 'totp:alice');
    assert.ok(!sealed.includes(secret));
    assert.deepEqual(keys.decrypt(sealed, 'totp:alice'), secret);
    assert.deepEqual(deriveKeys(TEST_KEY).decrypt(sealed, 'totp:alice'), secret, 'keys derive the same after a restart');
  });

  it('uses a fresh nonce each time', () => {
    assert.notDeepEqual(keys.encrypt(secret, 'totp:alice'), keys.encrypt(secret, 'totp:alice'));
  });

  it('detects any altered byte (format, nonce, ciphertext, tag) and truncation', () => {
    const sealed = keys.encrypt(secret, 'totp:alice');
    for (const index of [0, 1, 13, sealed.length - 1]) {
      const tampered = Buffer.from(sealed);
      tampered[index] = tampered[index]! ^ 0x01;
      assertDecryptionFails(() => keys.decrypt(tampered, 'totp:alice'));
    }
    assertDecryptionFails(() => keys.decrypt(sealed.subarray(0, 20), 'totp:alice'));
  });

  it('refuses a value moved to another row (AAD) or read with another key', () => {
    const sealed = keys.encrypt(secret, 'totp:alice');
    assertDecryptionFails(() => keys.decrypt(sealed, 'totp:mallory'));
    assertDecryptionFails(() => deriveKeys('another-encryption-key-of-length').decrypt(sealed, 'totp:alice'));
  });
});

describe('hashed lookups (HMAC-SHA256) are stable per key', () => {
  it('gives the same digest for the same input and key, another for another key', () => {
    const keys = deriveKeys(TEST_KEY);
    assert.deepEqual(keys.hmac('123456'), deriveKeys(TEST_KEY).hmac('123456'));
    assert.equal(keys.hmac('123456').length, 32);
    assert.notDeepEqual(keys.hmac('123456'), keys.hmac('123457'));
    assert.notDeepEqual(keys.hmac('123456'), deriveKeys('another-encryption-key-of-length').hmac('123456'));
  });

  it('derives separate keys per purpose: the check value is not the HMAC of anything we look up', () => {
    const keys = deriveKeys(TEST_KEY);
    assert.notEqual(keys.checkValue, keys.hmac('gatehouse storage encryption key check').toString('base64'));
    assert.ok(keys.matchesCheckValue(keys.checkValue));
    assert.ok(!keys.matchesCheckValue(deriveKeys('another-encryption-key-of-length').checkValue));
  });

  it('refuses a key shorter than 20 characters', () => {
    assert.throws(() => deriveKeys('short'), { code: 'encryption_key_too_short' });
  });
});
