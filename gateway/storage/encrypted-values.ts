/**
 * Every value stored encrypted under storage.encryption_key, as one row per column, and the two things
 * done to all of them: check that they decrypt (`gatehouse storage encryption check`) and re-encrypt
 * them under a new key in one transaction (`gatehouse storage encryption change-key`). A new encrypted
 * column is one more row in ENCRYPTED_COLUMNS.
 */
import type { Kysely } from 'kysely';
import { StorageError } from './errors.ts';
import type { StorageKeys } from './encryption.ts';
import type { DatabaseHandle } from './handle.ts';
import { LOOKUP_KEY_AAD, LOOKUP_KEY_NAME } from './lookup-key.ts';
import { oidcPayloadAad } from './oidc.ts';
import { oneTimeCodeAad } from './one-time-codes.ts';
import { totpSecretAad } from './totp.ts';
import { userSessionIdAad } from './user-sessions.ts';
import type { Database } from './types.ts';

interface EncryptedValue {
  /** identifies the row within its column */
  id: string;
  sealed: Buffer;
  aad: string;
}

interface EncryptedColumn {
  /** `table.column`, as reported */
  name: string;
  read(db: Kysely<Database>): Promise<EncryptedValue[]>;
  write(db: Kysely<Database>, id: string, sealed: Buffer): Promise<void>;
}

const ENCRYPTED_COLUMNS: readonly EncryptedColumn[] = [
  {
    name: 'totp_configurations.secret',
    read: async (db) =>
      (await db.selectFrom('totp_configurations').select(['username', 'secret']).orderBy('username').execute()).map((row) => ({
        id: row.username,
        sealed: Buffer.from(row.secret),
        aad: totpSecretAad(row.username),
      })),
    write: async (db, id, sealed) => {
      await db.updateTable('totp_configurations').set({ secret: sealed }).where('username', '=', id).execute();
    },
  },
  {
    name: 'one_time_codes.code',
    read: async (db) =>
      (await db.selectFrom('one_time_codes').select(['public_id', 'code']).orderBy('id').execute()).map((row) => ({
        id: row.public_id,
        sealed: Buffer.from(row.code),
        aad: oneTimeCodeAad(row.public_id),
      })),
    write: async (db, id, sealed) => {
      await db.updateTable('one_time_codes').set({ code: sealed }).where('public_id', '=', id).execute();
    },
  },
  {
    name: 'encryption.lookup_key',
    read: async (db) =>
      (await db.selectFrom('encryption').select('value').where('name', '=', LOOKUP_KEY_NAME).execute()).map((row) => ({
        id: LOOKUP_KEY_NAME,
        sealed: Buffer.from(row.value, 'base64'),
        aad: LOOKUP_KEY_AAD,
      })),
    write: async (db, id, sealed) => {
      await db.updateTable('encryption').set({ value: sealed.toString('base64') }).where('name', '=', id).execute();
    },
  },
  {
    name: 'user_sessions.session_id',
    read: async (db) =>
      (await db.selectFrom('user_sessions').select(['session_hash', 'session_id']).where('session_id', 'is not', null).orderBy('id').execute()).map((row) => ({
        id: row.session_hash,
        sealed: Buffer.from(row.session_id!),
        aad: userSessionIdAad(row.session_hash),
      })),
    write: async (db, id, sealed) => {
      await db.updateTable('user_sessions').set({ session_id: sealed }).where('session_hash', '=', id).execute();
    },
  },
  {
    name: 'oidc_payloads.payload',
    read: async (db) =>
      (await db.selectFrom('oidc_payloads').select(['id', 'model', 'payload_id', 'payload']).orderBy('id').execute()).map((row) => ({
        id: String(row.id),
        sealed: Buffer.from(row.payload),
        aad: oidcPayloadAad(row.model, row.payload_id),
      })),
    write: async (db, id, sealed) => {
      await db.updateTable('oidc_payloads').set({ payload: sealed }).where('id', '=', Number(id)).execute();
    },
  },
];

export interface EncryptedColumnReport {
  /** `table.column` */
  name: string;
  /** values that decrypted under the key (check) or were re-encrypted (change-key) */
  ok: number;
  /** values that did not decrypt (check only: change-key stops at the first) */
  failed: number;
}

/** Decrypts every encrypted value with `keys`; reads only. */
export function checkEncryptedValues(handle: DatabaseHandle, keys: StorageKeys): Promise<EncryptedColumnReport[]> {
  return handle.run('check the encrypted values', async (db) => {
    const report: EncryptedColumnReport[] = [];
    for (const column of ENCRYPTED_COLUMNS) {
      const entry = { name: column.name, ok: 0, failed: 0 };
      for (const value of await column.read(db)) {
        try {
          keys.decrypt(value.sealed, value.aad);
          entry.ok += 1;
        } catch {
          entry.failed += 1;
        }
      }
      report.push(entry);
    }
    return report;
  });
}

/**
 * Re-encrypts every encrypted value from `from` to `to` and records `to`'s check value, in one
 * transaction: a value that does not decrypt (or any other failure) rolls everything back, so the
 * database is wholly under one key or the other.
 */
export function reencryptValues(handle: DatabaseHandle, from: StorageKeys, to: StorageKeys): Promise<EncryptedColumnReport[]> {
  if (handle.db.isTransaction) throw new StorageError('query_failed', 'storage: the encryption key cannot change inside another transaction');
  return handle.run('change the encryption key', (pool) =>
    pool.transaction().execute(async (db) => {
      const check = await db.selectFrom('encryption').select('value').where('name', '=', 'check').executeTakeFirst();
      if (!check || !from.matchesCheckValue(check.value)) {
        throw new StorageError('encryption_key_mismatch', 'storage: the encryption_key does not match the one this database was created with');
      }
      const report: EncryptedColumnReport[] = [];
      for (const column of ENCRYPTED_COLUMNS) {
        const entry = { name: column.name, ok: 0, failed: 0 };
        for (const value of await column.read(db)) {
          let plaintext: Buffer;
          try {
            plaintext = from.decrypt(value.sealed, value.aad);
          } catch (error) {
            throw new StorageError('decryption_failed', `storage: ${column.name} of '${value.id}' does not decrypt under the current encryption_key; nothing was changed`, { cause: error });
          }
          await column.write(db, value.id, to.encrypt(plaintext, value.aad));
          entry.ok += 1;
        }
        report.push(entry);
      }
      await db.updateTable('encryption').set({ value: to.checkValue }).where('name', '=', 'check').execute();
      return report;
    }),
  );
}
