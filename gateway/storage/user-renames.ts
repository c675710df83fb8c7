/**
 * Moving a user's rows to a new username (`gatehouse users rename`). Run it inside
 * `storage.exclusively()`: every table changes in that one transaction or none does. Per table:
 * - moved: `oidc_subjects` (the `sub` the apps know survives the rename), `oidc_consents`,
 *   `oidc_session_links`, `totp_configurations` (the secret re-sealed: its AAD names the user),
 *   `totp_history` (the replay guard), `webauthn_users` (the user handle passkeys carry),
 *   `webauthn_credentials`, `user_preferences`, `banned_user` (a ban must not be escaped by a rename).
 * - deleted: `recovery_codes` (stored as an HMAC over username and code, they cannot verify under
 *   another name: the user makes new ones), `user_sessions` (the gateway sessions carry the old name,
 *   which no longer exists: they are over).
 * - kept under the old name: `authentication_logs` (history says who signed in under which name),
 *   `attempt_reservations` (seconds long), `identity_verification` and `one_time_codes` (history; their
 *   pending links and codes are bound to the old name and are revoked here).
 * `oidc_payloads` name the subject (account_id), which does not change.
 */
import type { StorageKeys } from './encryption.ts';
import type { DatabaseHandle } from './handle.ts';
import { totpSecretAad } from './totp.ts';

/** Tables where rows of the new name would be another person's identity: a rename onto them is refused. */
const IDENTITY_TABLES = ['oidc_subjects', 'oidc_consents', 'totp_configurations', 'webauthn_users', 'webauthn_credentials', 'recovery_codes', 'user_preferences'] as const;

const MOVED_TABLES = ['oidc_subjects', 'oidc_consents', 'oidc_session_links', 'totp_history', 'webauthn_users', 'webauthn_credentials', 'user_preferences', 'banned_user'] as const;

export interface RenamedRows {
  /** rows moved to the new name, per table (totp_configurations included) */
  moved: Record<string, number>;
  /** recovery codes deleted: they cannot work under another name */
  recoveryCodesDeleted: number;
  /** session-index rows deleted: those sessions are over */
  sessionsEnded: number;
  /** e-mailed links and one-time codes still usable that were revoked */
  pendingRevoked: number;
}

export interface UserRenameRepository {
  /** The tables holding identity rows (a subject, second factors, consents…) of `username`. */
  identityTables(username: string): Promise<string[]>;
  /** Moves `from`'s rows to `to` as described above. Call inside `storage.exclusively()`. */
  move(from: string, to: string, nowMs: number): Promise<RenamedRows>;
  /**
   * Forgets what a former user of this name left (a new user is added under it): their OpenID Connect
   * subject, consents and session ties, second factors and preferences. Returns the tables that held rows.
   */
  forgetFormer(username: string): Promise<string[]>;
}

export function userRenameRepository(handle: DatabaseHandle, keys: StorageKeys): UserRenameRepository {
  return {
    identityTables: (username) =>
      handle.run("find a user's identity rows", async (db) => {
        const found: string[] = [];
        for (const table of IDENTITY_TABLES) {
          const row = await db.selectFrom(table).select('username').where('username', '=', username).executeTakeFirst();
          if (row) found.push(table);
        }
        return found;
      }),
    forgetFormer: (username) =>
      handle.run("forget a former user's identity rows", async (db) => {
        const found: string[] = [];
        for (const table of [...IDENTITY_TABLES, 'oidc_session_links', 'totp_history'] as const) {
          const result = await db.deleteFrom(table).where('username', '=', username).executeTakeFirst();
          if (Number(result.numDeletedRows) > 0) found.push(table);
        }
        return found;
      }),
    move: (from, to, nowMs) =>
      handle.run('move a user to a new name', async (db) => {
        const moved: Record<string, number> = {};
        // the TOTP secret's AAD names the user: re-sealed under the new name, or it would never decrypt again
        const totp = await db.selectFrom('totp_configurations').select(['id', 'secret']).where('username', '=', from).execute();
        for (const row of totp) {
          const secret = keys.decrypt(Buffer.from(row.secret), totpSecretAad(from));
          await db.updateTable('totp_configurations').set({ username: to, secret: keys.encrypt(secret, totpSecretAad(to)) }).where('id', '=', row.id).execute();
        }
        moved['totp_configurations'] = totp.length;
        for (const table of MOVED_TABLES) {
          const result = await db.updateTable(table).set({ username: to }).where('username', '=', from).executeTakeFirst();
          moved[table] = Number(result.numUpdatedRows);
        }
        const codes = await db.deleteFrom('recovery_codes').where('username', '=', from).executeTakeFirst();
        const sessions = await db.deleteFrom('user_sessions').where('username', '=', from).executeTakeFirst();
        let pendingRevoked = 0;
        for (const table of ['identity_verification', 'one_time_codes'] as const) {
          const result = await db
            .updateTable(table)
            .set({ revoked_at: nowMs, revoked_ip: '' })
            .where('username', '=', from)
            .where('consumed_at', 'is', null)
            .where('revoked_at', 'is', null)
            .where('expires_at', '>', nowMs)
            .executeTakeFirst();
          pendingRevoked += Number(result.numUpdatedRows);
        }
        return { moved, recoveryCodesDeleted: Number(codes.numDeletedRows), sessionsEnded: Number(sessions.numDeletedRows), pendingRevoked };
      }),
  };
}
