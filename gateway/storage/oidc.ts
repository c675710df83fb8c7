/**
 * The OpenID Connect provider's state, shared by every instance on the database:
 * - `oidc_payloads`: oidc-provider's models (AuthorizationCode, RefreshToken, Grant, Session,
 *   Interaction…) shaped after its Adapter (lib/adapters/memory_adapter.js). The payload is JSON sealed
 *   with AES-256-GCM bound to `model:id`; grant id, session uid, user code and expiry sit beside it for
 *   the lookups. An expired row is never returned (housekeeping deletes it later).
 * - `oidc_subjects`: one opaque random `sub` per username, made once (the unique keys settle a race
 *   between instances), so renaming nothing else changes what the apps know the user as.
 * - `oidc_consents`: remembered consents per (username, client), until expiry or revocation.
 */
import { randomBytes } from 'node:crypto';
import type { StorageKeys } from './encryption.ts';
import type { DatabaseHandle } from './handle.ts';
import { orIgnore, orUpdate } from './upsert.ts';

/** An oidc-provider payload: whatever JSON the provider hands over; these are the fields indexed. */
export interface OidcPayload {
  grantId?: string;
  uid?: string;
  userCode?: string;
  /** epoch seconds, set by consume() */
  consumed?: number;
  [key: string]: unknown;
}

export interface OidcConsent {
  username: string;
  clientId: string;
  scopes: string[];
  claims: string[];
  grantedAt: number;
  /** null: until revoked */
  expiresAt: number | null;
}

export interface OidcRepository {
  /** Stores (or replaces) `model`'s `id`; `expiresInSec` undefined: no expiry. */
  upsert(model: string, id: string, payload: OidcPayload, expiresInSec: number | undefined, nowMs: number): Promise<void>;
  /** The payload, or undefined when absent or expired. */
  find(model: string, id: string, nowMs: number): Promise<OidcPayload | undefined>;
  /** `model`'s payload whose `uid` is `uid` (oidc-provider looks Sessions up by it). */
  findByUid(model: string, uid: string, nowMs: number): Promise<OidcPayload | undefined>;
  findByUserCode(model: string, userCode: string, nowMs: number): Promise<OidcPayload | undefined>;
  /** Marks it consumed: read back with `consumed` (epoch seconds) in the payload, as oidc-provider expects. */
  consume(model: string, id: string, nowMs: number): Promise<void>;
  destroy(model: string, id: string): Promise<void>;
  /** Deletes every payload carrying `grantId` (its codes and tokens; never an Interaction in flight); returns how many. */
  revokeByGrantId(grantId: string): Promise<number>;
  /** The ids and payloads of `model` whose accountId is `accountId` (a user's provider sessions). */
  listByAccount(model: string, accountId: string, nowMs: number): Promise<Array<{ id: string; payload: OidcPayload }>>;

  /** Ties the provider session `sessionUid` to the gateway session holding `linkKey`. */
  linkSession(linkKey: string, sessionUid: string, username: string, nowMs: number): Promise<void>;
  /** The provider session uids tied to a gateway session (by its key) or to any of a user's. */
  linkedSessions(by: { linkKey: string } | { username: string }): Promise<string[]>;
  /**
   * Forgets a removed user's OpenID Connect identity: their subject, consents and session ties. A new
   * user given the name later is a new subject to every app, never the old user's accounts.
   */
  forgetUser(username: string): Promise<void>;
  /** Forgets the ties of these provider sessions. */
  unlinkSessions(sessionUids: readonly string[]): Promise<void>;

  /** The user's subject identifier, made on first use; the same from every instance. */
  subjectFor(username: string, nowMs: number): Promise<string>;
  /** The user's subject if one was made; never makes one (for ending what a removed user had). */
  existingSubject(username: string): Promise<string | undefined>;
  /** `fresh`: ask the database, not this instance's memory (the remembered name was renamed away). */
  usernameForSubject(subject: string, options?: { fresh?: boolean }): Promise<string | undefined>;
  /**
   * Forgets the usernames this instance remembers for subjects: after any change of the users, since
   * another process (`gatehouse users rename`, then `users add` of the old name) may have moved one.
   */
  forgetRememberedUsernames(): void;

  /** Remembers a consent, replacing the user's active one for that client. */
  recordConsent(consent: OidcConsent): Promise<void>;
  /** The active (neither expired nor revoked) consent of `username` for `clientId`. */
  findConsent(username: string, clientId: string, nowMs: number): Promise<OidcConsent | undefined>;
  /** The user's active consents, by client id. */
  listConsents(username: string, nowMs: number): Promise<OidcConsent[]>;
  /** Revokes the user's active consent for `clientId`; true when there was one. */
  revokeConsent(username: string, clientId: string, nowMs: number): Promise<boolean>;
}

export const oidcPayloadAad = (model: string, id: string) => `oidc_payloads:payload:${model}:${id}`;

const SUBJECT_BYTES = 32;

export function oidcRepository(handle: DatabaseHandle, keys: StorageKeys): OidcRepository {
  const seal = (model: string, id: string, payload: OidcPayload) => keys.encrypt(Buffer.from(JSON.stringify(payload), 'utf8'), oidcPayloadAad(model, id));
  const open = (model: string, id: string, sealed: Buffer) => JSON.parse(keys.decrypt(Buffer.from(sealed), oidcPayloadAad(model, id)).toString('utf8')) as OidcPayload;
  const text = (value: unknown) => (typeof value === 'string' ? value : null);

  // `consumed` lives in its column (one UPDATE consumes, nothing re-sealed); oidc-provider reads it in the payload
  const withConsumed = (payload: OidcPayload, consumedAt: number | string | bigint | null) =>
    consumedAt === null ? payload : { ...payload, consumed: Math.floor(Number(consumedAt) / 1000) };

  const findBy = (action: string, model: string, column: 'payload_id' | 'uid' | 'user_code', value: string, nowMs: number) =>
    handle.run(action, async (db) => {
      const row = await db
        .selectFrom('oidc_payloads')
        .select(['payload_id', 'payload', 'consumed_at'])
        .where('model', '=', model)
        .where(column, '=', value)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowMs)]))
        .orderBy('id', 'desc')
        .executeTakeFirst();
      return row ? withConsumed(open(model, row.payload_id, row.payload), row.consumed_at) : undefined;
    });

  // a subject never changes once made, and its username only by `gatehouse users rename` (another
  // process), so every instance may remember them: the token endpoint asks for the username on each
  // refresh. A remembered name that no longer exists is asked again with `fresh` (findAccount does);
  // every change of the users file forgets them all (forgetRememberedUsernames), so a name given to a
  // new user after a rename is never the old subject's.
  const SUBJECTS_REMEMBERED = 10_000;
  const usernames = new Map<string, string>();
  const remember = (subject: string, username: string) => {
    if (usernames.size >= SUBJECTS_REMEMBERED) usernames.clear();
    usernames.set(subject, username);
  };
  const forgetCachedSubjects = (username: string) => {
    for (const [subject, name] of usernames) if (name === username) usernames.delete(subject);
  };

  const activeConsents = (username: string, nowMs: number) =>
    handle.db
      .selectFrom('oidc_consents')
      .selectAll()
      .where('username', '=', username)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowMs)]));
  const toConsent = (row: { username: string; client_id: string; scopes: string; claims: string; granted_at: number; expires_at: number | null }): OidcConsent => ({
    username: row.username,
    clientId: row.client_id,
    scopes: row.scopes === '' ? [] : row.scopes.split(' '),
    claims: JSON.parse(row.claims) as string[],
    grantedAt: Number(row.granted_at),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
  });

  return {
    async upsert(model, id, payload, expiresInSec, nowMs) {
      const row = {
        payload: seal(model, id, payload),
        grant_id: text(payload.grantId),
        account_id: text(payload.accountId),
        uid: text(payload.uid),
        user_code: text(payload.userCode),
        expires_at: typeof expiresInSec === 'number' ? nowMs + expiresInSec * 1000 : null,
        consumed_at: typeof payload.consumed === 'number' ? payload.consumed * 1000 : null,
      };
      await handle.run('store an OpenID Connect payload', (db) =>
        orUpdate(db.insertInto('oidc_payloads').values({ ...row, model, payload_id: id }), handle.dialect, ['model', 'payload_id'], row).execute(),
      );
    },
    find: (model, id, nowMs) => findBy('find an OpenID Connect payload', model, 'payload_id', id, nowMs),
    findByUid: (model, uid, nowMs) => findBy('find an OpenID Connect payload by uid', model, 'uid', uid, nowMs),
    findByUserCode: (model, userCode, nowMs) => findBy('find an OpenID Connect payload by user code', model, 'user_code', userCode, nowMs),
    consume: (model, id, nowMs) =>
      handle.run('consume an OpenID Connect payload', async (db) => {
        await db.updateTable('oidc_payloads').set({ consumed_at: nowMs }).where('model', '=', model).where('payload_id', '=', id).execute();
      }),
    destroy: (model, id) =>
      handle.run('destroy an OpenID Connect payload', async (db) => {
        await db.deleteFrom('oidc_payloads').where('model', '=', model).where('payload_id', '=', id).execute();
      }),
    revokeByGrantId: (grantId) =>
      handle.run('revoke an OpenID Connect grant', async (db) => {
        // an Interaction carrying the grant is the authorization in flight, not a credential: oidc-provider
        // revokes the grant of another account's session and then resumes that very interaction
        const result = await db.deleteFrom('oidc_payloads').where('grant_id', '=', grantId).where('model', '!=', 'Interaction').executeTakeFirst();
        return Number(result.numDeletedRows);
      }),
    listByAccount: (model, accountId, nowMs) =>
      handle.run('list the OpenID Connect payloads of a subject', async (db) => {
        const rows = await db
          .selectFrom('oidc_payloads')
          .select(['payload_id', 'payload', 'consumed_at'])
          .where('model', '=', model)
          .where('account_id', '=', accountId)
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowMs)]))
          .orderBy('id')
          .execute();
        return rows.map((row) => ({ id: row.payload_id, payload: withConsumed(open(model, row.payload_id, row.payload), row.consumed_at) }));
      }),

    linkSession: (linkKey, sessionUid, username, nowMs) =>
      handle.run('tie an OpenID Connect session to a gateway session', async (db) => {
        await orUpdate(
          db.insertInto('oidc_session_links').values({ link_key: linkKey, session_uid: sessionUid, username, created_at: nowMs }),
          handle.dialect,
          ['session_uid'],
          { link_key: linkKey, username },
        ).execute();
      }),
    linkedSessions: (by) =>
      handle.run('find the OpenID Connect sessions of a gateway session', async (db) => {
        const query = db.selectFrom('oidc_session_links').select('session_uid');
        const rows = await ('linkKey' in by ? query.where('link_key', '=', by.linkKey) : query.where('username', '=', by.username)).orderBy('id').execute();
        return rows.map((row) => row.session_uid);
      }),
    forgetUser: (username) =>
      handle.run("forget a removed user's OpenID Connect identity", async (db) => {
        await db.deleteFrom('oidc_session_links').where('username', '=', username).execute();
        await db.deleteFrom('oidc_consents').where('username', '=', username).execute();
        await db.deleteFrom('oidc_subjects').where('username', '=', username).execute();
        forgetCachedSubjects(username);
      }),
    unlinkSessions: (sessionUids) =>
      handle.run('forget OpenID Connect session ties', async (db) => {
        if (sessionUids.length === 0) return;
        await db.deleteFrom('oidc_session_links').where('session_uid', 'in', [...sessionUids]).execute();
      }),

    subjectFor: (username, nowMs) =>
      handle.run('find the OpenID Connect subject of a user', async (db) => {
        const existing = await db.selectFrom('oidc_subjects').select('subject').where('username', '=', username).executeTakeFirst();
        if (existing) {
          remember(existing.subject, username);
          return existing.subject;
        }
        // the loser of a race between instances inserts nothing and reads the winner's subject
        await orIgnore(
          db.insertInto('oidc_subjects').values({ username, subject: randomBytes(SUBJECT_BYTES).toString('base64url'), created_at: nowMs }),
          handle.dialect,
          ['username'],
        ).execute();
        const row = await db.selectFrom('oidc_subjects').select('subject').where('username', '=', username).executeTakeFirstOrThrow();
        remember(row.subject, username);
        return row.subject;
      }),
    existingSubject: (username) =>
      handle.run('find the OpenID Connect subject of a user', async (db) => {
        const row = await db.selectFrom('oidc_subjects').select('subject').where('username', '=', username).executeTakeFirst();
        return row?.subject;
      }),
    forgetRememberedUsernames: () => usernames.clear(),
    usernameForSubject: async (subject, options) => {
      const known = options?.fresh === true ? undefined : usernames.get(subject);
      if (known !== undefined) return known;
      return handle.run('find the user of an OpenID Connect subject', async (db) => {
        const row = await db.selectFrom('oidc_subjects').select('username').where('subject', '=', subject).executeTakeFirst();
        if (row) remember(subject, row.username);
        return row?.username;
      });
    },

    recordConsent: (consent) =>
      handle.run('remember an OpenID Connect consent', async (db) => {
        await db
          .updateTable('oidc_consents')
          .set({ revoked_at: consent.grantedAt })
          .where('username', '=', consent.username)
          .where('client_id', '=', consent.clientId)
          .where('revoked_at', 'is', null)
          .execute();
        await db
          .insertInto('oidc_consents')
          .values({
            username: consent.username,
            client_id: consent.clientId,
            scopes: consent.scopes.join(' '),
            claims: JSON.stringify(consent.claims),
            granted_at: consent.grantedAt,
            expires_at: consent.expiresAt,
            revoked_at: null,
          })
          .execute();
      }),
    findConsent: (username, clientId, nowMs) =>
      handle.run('find an OpenID Connect consent', async () => {
        const row = await activeConsents(username, nowMs).where('client_id', '=', clientId).orderBy('id', 'desc').executeTakeFirst();
        return row ? toConsent(row) : undefined;
      }),
    listConsents: (username, nowMs) =>
      handle.run('list OpenID Connect consents', async () =>
        (await activeConsents(username, nowMs).orderBy('client_id').orderBy('id').execute()).map(toConsent),
      ),
    revokeConsent: (username, clientId, nowMs) =>
      handle.run('revoke an OpenID Connect consent', async (db) => {
        const result = await db
          .updateTable('oidc_consents')
          .set({ revoked_at: nowMs })
          .where('username', '=', username)
          .where('client_id', '=', clientId)
          .where('revoked_at', 'is', null)
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowMs)]))
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      }),
  };
}
