/**
 * `user_sessions`: an index of each user's signed-in sessions (for "signed-in sessions" and "sign out
 * everywhere"). A session is named by the SHA-256 of its id: the id is a bearer secret with 256 bits of
 * entropy, so an unkeyed hash is enough to find it. The id itself is kept only sealed (AES-256-GCM
 * under storage.encryption_key, bound to the hash), so that signing a session out from another device
 * can end it in the session store, and a copy of this table without the key signs nobody in.
 */
import { createHash } from 'node:crypto';
import type { StorageKeys } from './encryption.ts';
import type { DatabaseHandle } from './handle.ts';
import { orUpdate } from './upsert.ts';

export interface UserSession {
  /** hex SHA-256 of the session id */
  sessionHash: string;
  username: string;
  createdAt: number;
  lastSeenAt: number;
  remoteIp: string;
  userAgent: string;
}

export interface UserSessionRepository {
  /** Indexes a new session (a session id seen again is updated instead). */
  add(session: { sessionId: string; username: string; nowMs: number; remoteIp: string; userAgent: string }): Promise<void>;
  /** Records that the session was used at `nowMs`. */
  touch(sessionId: string, nowMs: number, remoteIp: string): Promise<void>;
  /**
   * The session once indexed as `fromHash` now has the id `sessionId` (a new id after a second factor);
   * false when `fromHash` was not indexed for `username`.
   */
  move(username: string, fromHash: string, sessionId: string, nowMs: number, remoteIp: string): Promise<boolean>;
  /** The user's sessions, most recently seen first. */
  listByUser(username: string): Promise<UserSession[]>;
  /** The id of the user's session `sessionHash`, to end it in the store; undefined when unknown or indexed without it. */
  sessionId(username: string, sessionHash: string): Promise<string | undefined>;
  /** Removes the user's session `sessionHash`; true when it was there. */
  remove(username: string, sessionHash: string): Promise<boolean>;
  /** Removes the user's sessions but `exceptHash`; returns the hashes removed. */
  removeAllForUser(username: string, exceptHash?: string): Promise<string[]>;
}

export function sessionHash(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('hex');
}

/** The sealed id is bound to its row's hash: moved to another row it does not decrypt. */
export const userSessionIdAad = (hash: string) => `user_sessions:session_id:${hash}`;

export function userSessionRepository(handle: DatabaseHandle, keys: StorageKeys): UserSessionRepository {
  const seal = (sessionId: string, hash: string) => keys.encrypt(Buffer.from(sessionId, 'utf8'), userSessionIdAad(hash));
  return {
    async add(session) {
      const hash = sessionHash(session.sessionId);
      const seen = { last_seen_at: session.nowMs, remote_ip: session.remoteIp, user_agent: session.userAgent };
      await handle.run('index a session', (db) =>
        orUpdate(
          db.insertInto('user_sessions').values({ session_hash: hash, username: session.username, created_at: session.nowMs, session_id: seal(session.sessionId, hash), ...seen }),
          handle.dialect,
          ['session_hash'],
          seen,
        ).execute(),
      );
    },
    async touch(sessionId, nowMs, remoteIp) {
      await handle.run('update a session', (db) =>
        db.updateTable('user_sessions').set({ last_seen_at: nowMs, remote_ip: remoteIp }).where('session_hash', '=', sessionHash(sessionId)).execute(),
      );
    },
    move: (username, fromHash, sessionId, nowMs, remoteIp) =>
      handle.run('move a session', async (db) => {
        const hash = sessionHash(sessionId);
        const result = await db
          .updateTable('user_sessions')
          .set({ session_hash: hash, session_id: seal(sessionId, hash), last_seen_at: nowMs, remote_ip: remoteIp })
          .where('username', '=', username)
          .where('session_hash', '=', fromHash)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      }),
    listByUser: (username) =>
      handle.run('list sessions', async (db) => {
        const rows = await db
          .selectFrom('user_sessions')
          .select(['session_hash', 'username', 'created_at', 'last_seen_at', 'remote_ip', 'user_agent'])
          .where('username', '=', username)
          .orderBy('last_seen_at', 'desc')
          .orderBy('id', 'desc')
          .execute();
        return rows.map((row) => ({
          sessionHash: row.session_hash,
          username: row.username,
          createdAt: Number(row.created_at),
          lastSeenAt: Number(row.last_seen_at),
          remoteIp: row.remote_ip,
          userAgent: row.user_agent,
        }));
      }),
    async sessionId(username, hash) {
      const row = await handle.run('read a session id', (db) =>
        db.selectFrom('user_sessions').select('session_id').where('username', '=', username).where('session_hash', '=', hash).executeTakeFirst(),
      );
      if (!row?.session_id) return undefined;
      return keys.decrypt(Buffer.from(row.session_id), userSessionIdAad(hash)).toString('utf8');
    },
    remove: (username, hash) =>
      handle.run('remove a session', async (db) => {
        const result = await db.deleteFrom('user_sessions').where('username', '=', username).where('session_hash', '=', hash).executeTakeFirst();
        return Number(result.numDeletedRows) > 0;
      }),
    removeAllForUser: (username, exceptHash) =>
      handle.run('remove sessions', async (db) => {
        let query = db.deleteFrom('user_sessions').where('username', '=', username);
        if (exceptHash !== undefined) query = query.where('session_hash', '!=', exceptHash);
        if (handle.dialect !== 'mysql') return (await query.returning('session_hash').execute()).map((row) => row.session_hash);
        // no `returning` on MySQL: the rows are read, then exactly those deleted
        let select = db.selectFrom('user_sessions').select('session_hash').where('username', '=', username);
        if (exceptHash !== undefined) select = select.where('session_hash', '!=', exceptHash);
        const hashes = (await select.execute()).map((row) => row.session_hash);
        if (hashes.length === 0) return [];
        await db.deleteFrom('user_sessions').where('username', '=', username).where('session_hash', 'in', hashes).execute();
        return hashes;
      }),
  };
}
