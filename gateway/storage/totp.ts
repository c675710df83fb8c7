/**
 * `totp_configurations` (one per user; the seed encrypted with AES-256-GCM, bound to the username) and
 * `totp_history` (the steps already accepted: the replay guard every instance shares).
 */
import type { StorageKeys } from './encryption.ts';
import type { DatabaseHandle } from './handle.ts';
import { orIgnore, orUpdate } from './upsert.ts';

export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

export interface TotpConfiguration {
  username: string;
  issuer: string;
  algorithm: TotpAlgorithm;
  digits: number;
  period: number;
  /** the raw seed (not base32) */
  secret: Buffer;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface TotpRepository {
  /** Saves the user's configuration, replacing any previous one. */
  save(config: Omit<TotpConfiguration, 'lastUsedAt'>): Promise<void>;
  load(username: string): Promise<TotpConfiguration | undefined>;
  /** True when there was one to delete. Forgets the used steps too. */
  delete(username: string): Promise<boolean>;
  /**
   * Records that `step` was accepted for `username`: true the first time, false if it already was (by
   * this or any other instance). Atomic through the unique key (username, step).
   */
  markStepUsed(username: string, step: number, nowMs: number): Promise<boolean>;
  /** Forgets steps recorded before `beforeMs` (they are far outside any skew). */
  pruneHistory(beforeMs: number): Promise<number>;
}

export const totpSecretAad = (username: string) => `totp_configurations:secret:${username}`;

export function totpRepository(handle: DatabaseHandle, keys: StorageKeys): TotpRepository {
  return {
    async save(config) {
      const secret = keys.encrypt(config.secret, totpSecretAad(config.username));
      const row = {
        created_at: config.createdAt,
        last_used_at: null,
        issuer: config.issuer,
        algorithm: config.algorithm,
        digits: config.digits,
        period: config.period,
        secret,
      };
      await handle.run('save a TOTP configuration', (db) =>
        orUpdate(db.insertInto('totp_configurations').values({ ...row, username: config.username }), handle.dialect, ['username'], row).execute(),
      );
    },
    async load(username) {
      const row = await handle.run('load a TOTP configuration', (db) =>
        db.selectFrom('totp_configurations').selectAll().where('username', '=', username).executeTakeFirst(),
      );
      if (!row) return undefined;
      return {
        username: row.username,
        issuer: row.issuer,
        algorithm: row.algorithm as TotpAlgorithm,
        digits: Number(row.digits),
        period: Number(row.period),
        secret: keys.decrypt(Buffer.from(row.secret), totpSecretAad(row.username)),
        createdAt: Number(row.created_at),
        lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
      };
    },
    delete: (username) =>
      handle.run('delete a TOTP configuration', async (db) => {
        await db.deleteFrom('totp_history').where('username', '=', username).execute();
        const result = await db.deleteFrom('totp_configurations').where('username', '=', username).executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      }),
    markStepUsed: (username, step, nowMs) =>
      handle.run('record a used TOTP step', async (db) => {
        const insert = orIgnore(db.insertInto('totp_history').values({ created_at: nowMs, username, step }), handle.dialect, ['username', 'step']);
        // MySQL has no `returning`: an ignored row is an insert that changed no row
        const inserted = handle.dialect === 'mysql' ? Number((await insert.executeTakeFirst()).numInsertedOrUpdatedRows) > 0 : (await insert.returning('id').executeTakeFirst()) !== undefined;
        if (!inserted) return false;
        await db.updateTable('totp_configurations').set({ last_used_at: nowMs }).where('username', '=', username).execute();
        return true;
      }),
    pruneHistory: (beforeMs) =>
      handle.run('forget old TOTP steps', async (db) => {
        const result = await db.deleteFrom('totp_history').where('created_at', '<', beforeMs).executeTakeFirst();
        return Number(result.numDeletedRows);
      }),
  };
}
