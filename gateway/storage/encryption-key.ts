/**
 * `encryption`: the check value that recognises storage.encryption_key, so a changed key fails at
 * startup instead of corrupting encrypted rows later. The key itself is never stored.
 */
import { StorageError } from './errors.ts';
import type { StorageKeys } from './encryption.ts';
import type { DatabaseHandle } from './handle.ts';
import { checkEncryptedValues, reencryptValues, type EncryptedColumnReport } from './encrypted-values.ts';
import { orIgnore } from './upsert.ts';

export interface EncryptionRepository {
  /** AES-256-GCM and HMAC keys derived from storage.encryption_key */
  readonly keys: StorageKeys;
  /**
   * 'matches', or 'unrecorded' on a database no Gatehouse has started on yet. Reads only. Throws
   * StorageError('encryption_key_mismatch') when the database was created with another key.
   */
  checkKey(): Promise<'matches' | 'unrecorded'>;
  /** Records the key's check value if none is (first start; another instance may race), then checks it. True when this call recorded it. */
  recordKey(): Promise<boolean>;
  /** Checks the key (as checkKey) and tries to decrypt every encrypted value; reads only. */
  checkValues(): Promise<EncryptedColumnReport[]>;
  /**
   * Re-encrypts every encrypted value under `next` and records its check value, in one transaction
   * (all or nothing). This storage must then be closed and reopened with the new key.
   */
  changeKey(next: StorageKeys): Promise<EncryptedColumnReport[]>;
}

const KEY_CHECK = 'check';

export function encryptionRepository(handle: DatabaseHandle, keys: StorageKeys): EncryptionRepository {
  const checkKey = async (): Promise<'matches' | 'unrecorded'> => {
    const row = await handle.run('check the encryption key', (db) => db.selectFrom('encryption').select('value').where('name', '=', KEY_CHECK).executeTakeFirst());
    if (!row) return 'unrecorded';
    if (!keys.matchesCheckValue(row.value)) {
      throw new StorageError('encryption_key_mismatch', 'storage: the encryption_key does not match the one this database was created with');
    }
    return 'matches';
  };
  return {
    keys,
    checkKey,
    async recordKey() {
      if ((await checkKey()) === 'matches') return false;
      await handle.run('record the encryption key check value', (db) =>
        orIgnore(db.insertInto('encryption').values({ name: KEY_CHECK, value: keys.checkValue }), handle.dialect, ['name']).execute(),
      );
      // whoever won the race, the value now stored must be this key's
      if ((await checkKey()) !== 'matches') {
        throw new StorageError('encryption_key_mismatch', 'storage: the encryption_key does not match the one this database was created with');
      }
      return true;
    },
    async checkValues() {
      if ((await checkKey()) === 'unrecorded') {
        throw new StorageError('encryption_key_mismatch', 'storage: no encryption key is recorded in this database yet; start the gateway once first');
      }
      return checkEncryptedValues(handle, keys);
    },
    changeKey: (next) => reencryptValues(handle, keys, next),
  };
}
