/**
 * `webauthn_users` (a random user handle per user, so the authenticator never learns the username) and
 * `webauthn_credentials` (security keys and passkeys: several named ones per user).
 */
import { randomBytes } from 'node:crypto';
import type { SqlBool } from 'kysely';
import { fromSqlBool, type DatabaseHandle } from './handle.ts';
import { insertReturningRow, orIgnore } from './upsert.ts';

export interface NewWebauthnCredential {
  username: string;
  /** the name the user gave it; unique per user */
  description: string;
  /** the credential id, base64url */
  kid: string;
  aaguid: string | null;
  attestationType: string;
  /** `platform`, `cross-platform` or '' */
  attachment: string;
  transports: readonly string[];
  signCount: number;
  discoverable: boolean;
  /** user presence and user verification at registration */
  present: boolean;
  verified: boolean;
  backupEligible: boolean;
  backupState: boolean;
  publicKey: Buffer;
  createdAt: number;
}

export interface WebauthnCredential extends NewWebauthnCredential {
  id: number;
  lastUsedAt: number | null;
  /** set when a sign counter went backwards: the authenticator may have been cloned */
  cloneWarning: boolean;
}

export interface WebauthnRepository {
  /** The user's handle, created (random, 64 bytes) on first call. */
  userHandle(username: string): Promise<Buffer>;
  /** The user a handle belongs to (passkey sign-in), or undefined. */
  usernameByHandle(handle: Buffer): Promise<string | undefined>;
  /** Adds a credential; throws StorageError('query_failed') if the kid or the (user, description) exists. */
  add(credential: NewWebauthnCredential): Promise<WebauthnCredential>;
  list(username: string): Promise<WebauthnCredential[]>;
  byKid(kid: string): Promise<WebauthnCredential | undefined>;
  /** True when the user's credential `id` was renamed. */
  rename(username: string, id: number, description: string): Promise<boolean>;
  /** After a sign-in: the authenticator's counter and flags, and when. */
  markUsed(id: number, use: { signCount: number; backupState: boolean; cloneWarning: boolean; nowMs: number }): Promise<void>;
  /** True when the user's credential `id` was deleted. */
  delete(username: string, id: number): Promise<boolean>;
}

type Row = Record<string, unknown>;

function toCredential(row: Row): WebauthnCredential {
  const bool = (name: string) => fromSqlBool(row[name] as SqlBool);
  return {
    id: Number(row.id),
    username: String(row.username),
    description: String(row.description),
    kid: String(row.kid),
    aaguid: row.aaguid === null ? null : String(row.aaguid),
    attestationType: String(row.attestation_type),
    attachment: String(row.attachment),
    transports: String(row.transport) === '' ? [] : String(row.transport).split(','),
    signCount: Number(row.sign_count),
    discoverable: bool('discoverable'),
    present: bool('present'),
    verified: bool('verified'),
    backupEligible: bool('backup_eligible'),
    backupState: bool('backup_state'),
    publicKey: Buffer.from(row.public_key as Uint8Array),
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
    cloneWarning: bool('clone_warning'),
  };
}

export function webauthnRepository(handle: DatabaseHandle): WebauthnRepository {
  const b = handle.bool;
  return {
    userHandle: (username) =>
      handle.run('load a WebAuthn user handle', async (db) => {
        // another instance may race: whichever insert won is the handle
        await orIgnore(db.insertInto('webauthn_users').values({ username, user_handle: randomBytes(64) }), handle.dialect, ['username']).execute();
        const row = await db.selectFrom('webauthn_users').select('user_handle').where('username', '=', username).executeTakeFirstOrThrow();
        return Buffer.from(row.user_handle);
      }),
    usernameByHandle: (userHandle) =>
      handle.run('find a WebAuthn user', async (db) => {
        const row = await db.selectFrom('webauthn_users').select('username').where('user_handle', '=', userHandle).executeTakeFirst();
        return row?.username;
      }),
    add: (c) =>
      handle.run('add a WebAuthn credential', async (db) => {
        const row = await insertReturningRow(db, handle.dialect, 'webauthn_credentials', {
          created_at: c.createdAt,
          last_used_at: null,
          username: c.username,
          description: c.description,
          kid: c.kid,
          aaguid: c.aaguid,
          attestation_type: c.attestationType,
          attachment: c.attachment,
          transport: c.transports.join(','),
          sign_count: c.signCount,
          clone_warning: b(false),
          discoverable: b(c.discoverable),
          present: b(c.present),
          verified: b(c.verified),
          backup_eligible: b(c.backupEligible),
          backup_state: b(c.backupState),
          public_key: c.publicKey,
          });
        return toCredential(row as Row);
      }),
    list: (username) =>
      handle.run('list WebAuthn credentials', async (db) => {
        const rows = await db.selectFrom('webauthn_credentials').selectAll().where('username', '=', username).orderBy('created_at').orderBy('id').execute();
        return rows.map((row) => toCredential(row as Row));
      }),
    byKid: (kid) =>
      handle.run('find a WebAuthn credential', async (db) => {
        const row = await db.selectFrom('webauthn_credentials').selectAll().where('kid', '=', kid).executeTakeFirst();
        return row && toCredential(row as Row);
      }),
    rename: (username, id, description) =>
      handle.run('rename a WebAuthn credential', async (db) => {
        const result = await db.updateTable('webauthn_credentials').set({ description }).where('id', '=', id).where('username', '=', username).executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      }),
    async markUsed(id, use) {
      await handle.run('record a WebAuthn sign-in', (db) =>
        db
          .updateTable('webauthn_credentials')
          .set({ sign_count: use.signCount, backup_state: b(use.backupState), clone_warning: b(use.cloneWarning), last_used_at: use.nowMs })
          .where('id', '=', id)
          .execute(),
      );
    },
    delete: (username, id) =>
      handle.run('delete a WebAuthn credential', async (db) => {
        const result = await db.deleteFrom('webauthn_credentials').where('id', '=', id).where('username', '=', username).executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      }),
  };
}
