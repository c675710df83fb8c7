/**
 * The lookup key: 32 random bytes, stored in `encryption` encrypted under storage.encryption_key, that
 * keys the HMACs by which recovery codes and one-time codes are found. Random and stored (rather than
 * derived from encryption_key) so that `storage encryption change-key` re-encrypts this one value and
 * every stored HMAC stays valid; keyed so that a copy of the database alone cannot test guesses.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { StorageKeys } from './encryption.ts';
import type { DatabaseHandle } from './handle.ts';
import { orIgnore } from './upsert.ts';

export const LOOKUP_KEY_NAME = 'lookup_key';
export const LOOKUP_KEY_AAD = 'encryption:lookup_key';

export interface SecretLookup {
  /** HMAC-SHA256 of `purpose` and `value` under the lookup key, created on first use. */
  hmac(handle: DatabaseHandle, purpose: string, value: string): Promise<Buffer>;
}

export function createSecretLookup(keys: StorageKeys): SecretLookup {
  let key: Buffer | undefined; // the value never changes once stored (change-key re-encrypts it), so it is cached
  const load = async (handle: DatabaseHandle): Promise<Buffer> => {
    const read = () =>
      handle.run('load the lookup key', (db) => db.selectFrom('encryption').select('value').where('name', '=', LOOKUP_KEY_NAME).executeTakeFirst());
    let row = await read();
    if (!row) {
      const sealed = keys.encrypt(randomBytes(32), LOOKUP_KEY_AAD).toString('base64');
      // another instance may race: whichever insert won is the key
      await handle.run('create the lookup key', (db) =>
        orIgnore(db.insertInto('encryption').values({ name: LOOKUP_KEY_NAME, value: sealed }), handle.dialect, ['name']).execute(),
      );
      row = await read();
    }
    return keys.decrypt(Buffer.from(row!.value, 'base64'), LOOKUP_KEY_AAD);
  };
  return {
    async hmac(handle, purpose, value) {
      key ??= await load(handle);
      // purpose and value are separated by a NUL so no two (purpose, value) pairs share a message
      return createHmac('sha256', key).update(`${purpose}\u0000${value}`).digest();
    },
  };
}
