/**
 * `recovery_codes`: single-use codes a user keeps on paper. Stored as HMAC-SHA256 under the lookup key,
 * never in clear: the codes are random with enough entropy that a slow password hash would add cost
 * without adding safety, and the key (stored encrypted) makes a copy of the database alone useless for
 * testing guesses. A fast hash also lets a code be found and consumed in one atomic UPDATE.
 */
import type { DatabaseHandle } from './handle.ts';
import type { SecretLookup } from './lookup-key.ts';

export interface RecoveryCodeRepository {
  /** Replaces the user's codes with `codes`, in one transaction: the old set stops working at once. */
  replace(username: string, codes: readonly string[], nowMs: number): Promise<void>;
  /** Uses up one code: true exactly once per code, even under concurrent attempts on any instance. */
  consume(username: string, code: string, nowMs: number): Promise<boolean>;
  /** How many unused codes the user has left. */
  remaining(username: string): Promise<number>;
  deleteAll(username: string): Promise<void>;
}

const PURPOSE = 'recovery_code';

export function recoveryCodeRepository(handle: DatabaseHandle, lookup: SecretLookup): RecoveryCodeRepository {
  const hash = (username: string, code: string) => lookup.hmac(handle, PURPOSE, `${username}\u0000${code}`);
  return {
    async replace(username, codes, nowMs) {
      const hashes = await Promise.all(codes.map((code) => hash(username, code)));
      await handle.run('replace recovery codes', async (db) => {
        const work = async (trx: typeof db) => {
          await trx.deleteFrom('recovery_codes').where('username', '=', username).execute();
          if (hashes.length > 0) {
            await trx.insertInto('recovery_codes').values(hashes.map((code_hash) => ({ created_at: nowMs, username, code_hash, used_at: null }))).execute();
          }
        };
        // inside storage.exclusively() the handle is already a transaction
        if (db.isTransaction) await work(db);
        else await db.transaction().execute(work);
      });
    },
    async consume(username, code, nowMs) {
      const codeHash = await hash(username, code);
      return handle.run('use a recovery code', async (db) => {
        const result = await db
          .updateTable('recovery_codes')
          .set({ used_at: nowMs })
          .where('username', '=', username)
          .where('code_hash', '=', codeHash)
          .where('used_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) === 1;
      });
    },
    remaining: (username) =>
      handle.run('count recovery codes', async (db) => {
        const row = await db
          .selectFrom('recovery_codes')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('username', '=', username)
          .where('used_at', 'is', null)
          .executeTakeFirstOrThrow();
        return Number(row.n);
      }),
    async deleteAll(username) {
      await handle.run('delete recovery codes', (db) => db.deleteFrom('recovery_codes').where('username', '=', username).execute());
    },
  };
}
