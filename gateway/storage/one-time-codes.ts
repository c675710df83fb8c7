/**
 * `one_time_codes`: short codes e-mailed to confirm a sensitive change (elevation). The code is kept
 * encrypted (AES-256-GCM, bound to its public id) and found by its HMAC under the lookup key, so the
 * database never holds it in clear and a code is checked without decrypting every row.
 */
import { randomUUID } from 'node:crypto';
import type { StorageKeys } from './encryption.ts';
import type { DatabaseHandle } from './handle.ts';
import type { SecretLookup } from './lookup-key.ts';

export interface NewOneTimeCode {
  username: string;
  /** what the code allows, e.g. `elevate` */
  intent: string;
  code: string;
  issuedAt: number;
  issuedIp: string;
  expiresAt: number;
}

export interface OneTimeCode extends NewOneTimeCode {
  /** the id a revocation link or the session names it by; never the code */
  publicId: string;
  consumedAt: number | null;
  consumedIp: string | null;
  revokedAt: number | null;
  revokedIp: string | null;
}

export interface OneTimeCodeRepository {
  /** Stores a code; returns its public id. */
  create(code: NewOneTimeCode): Promise<string>;
  /** The code behind `publicId`, decrypted, or undefined. */
  find(publicId: string): Promise<OneTimeCode | undefined>;
  /**
   * Uses the code `publicId` if `code` is its value and it is unused, unrevoked and unexpired at `nowMs`
   * (one conditional UPDATE: true exactly once, whatever the concurrency).
   */
  consume(attempt: { publicId: string; username: string; intent: string; code: string; nowMs: number; ip: string }): Promise<boolean>;
  /** True when a code still usable was revoked. */
  revoke(publicId: string, nowMs: number, ip: string): Promise<boolean>;
}

export const oneTimeCodeAad = (publicId: string) => `one_time_codes:code:${publicId}`;
const PURPOSE = 'one_time_code';

export function oneTimeCodeRepository(handle: DatabaseHandle, keys: StorageKeys, lookup: SecretLookup): OneTimeCodeRepository {
  const signature = (username: string, intent: string, code: string) => lookup.hmac(handle, PURPOSE, `${username}\u0000${intent}\u0000${code}`);
  return {
    async create(code) {
      const publicId = randomUUID();
      const sig = await signature(code.username, code.intent, code.code);
      await handle.run('record a one-time code', (db) =>
        db
          .insertInto('one_time_codes')
          .values({
            public_id: publicId,
            signature: sig,
            username: code.username,
            intent: code.intent,
            issued_at: code.issuedAt,
            issued_ip: code.issuedIp,
            expires_at: code.expiresAt,
            consumed_at: null,
            consumed_ip: null,
            revoked_at: null,
            revoked_ip: null,
            code: keys.encrypt(Buffer.from(code.code, 'utf8'), oneTimeCodeAad(publicId)),
          })
          .execute(),
      );
      return publicId;
    },
    find: (publicId) =>
      handle.run('load a one-time code', async (db) => {
        const row = await db.selectFrom('one_time_codes').selectAll().where('public_id', '=', publicId).executeTakeFirst();
        if (!row) return undefined;
        return {
          publicId: row.public_id,
          username: row.username,
          intent: row.intent,
          code: keys.decrypt(Buffer.from(row.code), oneTimeCodeAad(row.public_id)).toString('utf8'),
          issuedAt: Number(row.issued_at),
          issuedIp: row.issued_ip,
          expiresAt: Number(row.expires_at),
          consumedAt: row.consumed_at === null ? null : Number(row.consumed_at),
          consumedIp: row.consumed_ip,
          revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
          revokedIp: row.revoked_ip,
        };
      }),
    async consume(attempt) {
      const sig = await signature(attempt.username, attempt.intent, attempt.code);
      return handle.run('use a one-time code', async (db) => {
        const result = await db
          .updateTable('one_time_codes')
          .set({ consumed_at: attempt.nowMs, consumed_ip: attempt.ip })
          .where('public_id', '=', attempt.publicId)
          .where('signature', '=', sig)
          .where('username', '=', attempt.username)
          .where('intent', '=', attempt.intent)
          .where('consumed_at', 'is', null)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', attempt.nowMs)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) === 1;
      });
    },
    revoke: (publicId, nowMs, ip) =>
      handle.run('revoke a one-time code', async (db) => {
        const result = await db
          .updateTable('one_time_codes')
          .set({ revoked_at: nowMs, revoked_ip: ip })
          .where('public_id', '=', publicId)
          .where('consumed_at', 'is', null)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      }),
  };
}
