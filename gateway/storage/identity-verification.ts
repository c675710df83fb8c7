/** `identity_verification`: the tokens behind e-mailed links (password reset): each usable once, until it expires or is revoked. */
import type { DatabaseHandle } from './handle.ts';

export interface NewIdentityVerification {
  jti: string;
  username: string;
  /** what the link does, e.g. `reset_password` */
  action: string;
  issuedAt: number;
  issuedIp: string;
  expiresAt: number;
}

export interface IdentityVerification extends NewIdentityVerification {
  consumedAt: number | null;
  consumedIp: string | null;
  revokedAt: number | null;
  revokedIp: string | null;
}

export interface IdentityVerificationRepository {
  create(token: NewIdentityVerification): Promise<void>;
  find(jti: string): Promise<IdentityVerification | undefined>;
  /**
   * Uses the token: returns it the one time it is unused, unrevoked and unexpired at `nowMs` (a single
   * conditional UPDATE, so two concurrent uses on any instances cannot both succeed), else undefined.
   */
  consume(jti: string, nowMs: number, ip: string): Promise<IdentityVerification | undefined>;
  /** True when a token still usable was revoked. */
  revoke(jti: string, nowMs: number, ip: string): Promise<boolean>;
  /** Revokes every still usable `action` token of `username` (their password changed); how many. */
  revokeAllForUser(username: string, action: string, nowMs: number, ip: string): Promise<number>;
}

type Row = Record<string, unknown>;
const num = (value: unknown) => (value === null ? null : Number(value));
const str = (value: unknown) => (value === null ? null : String(value));

function toToken(row: Row): IdentityVerification {
  return {
    jti: String(row.jti),
    username: String(row.username),
    action: String(row.action),
    issuedAt: Number(row.issued_at),
    issuedIp: String(row.issued_ip),
    expiresAt: Number(row.expires_at),
    consumedAt: num(row.consumed_at),
    consumedIp: str(row.consumed_ip),
    revokedAt: num(row.revoked_at),
    revokedIp: str(row.revoked_ip),
  };
}

export function identityVerificationRepository(handle: DatabaseHandle): IdentityVerificationRepository {
  return {
    async create(token) {
      await handle.run('record an identity verification', (db) =>
        db
          .insertInto('identity_verification')
          .values({
            jti: token.jti,
            username: token.username,
            action: token.action,
            issued_at: token.issuedAt,
            issued_ip: token.issuedIp,
            expires_at: token.expiresAt,
            consumed_at: null,
            consumed_ip: null,
            revoked_at: null,
            revoked_ip: null,
          })
          .execute(),
      );
    },
    find: (jti) =>
      handle.run('load an identity verification', async (db) => {
        const row = await db.selectFrom('identity_verification').selectAll().where('jti', '=', jti).executeTakeFirst();
        return row && toToken(row as Row);
      }),
    consume: (jti, nowMs, ip) =>
      handle.run('use an identity verification', async (db) => {
        const update = db
          .updateTable('identity_verification')
          .set({ consumed_at: nowMs, consumed_ip: ip })
          .where('jti', '=', jti)
          .where('consumed_at', 'is', null)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', nowMs);
        if (handle.dialect !== 'mysql') {
          const row = await update.returningAll().executeTakeFirst();
          return row && toToken(row as Row);
        }
        // no `returning` on MySQL: only the one update that found the row unused reads it back
        if (Number((await update.executeTakeFirst()).numUpdatedRows) !== 1) return undefined;
        const row = await db.selectFrom('identity_verification').selectAll().where('jti', '=', jti).executeTakeFirstOrThrow();
        return toToken(row as Row);
      }),
    revoke: (jti, nowMs, ip) =>
      handle.run('revoke an identity verification', async (db) => {
        const result = await db
          .updateTable('identity_verification')
          .set({ revoked_at: nowMs, revoked_ip: ip })
          .where('jti', '=', jti)
          .where('consumed_at', 'is', null)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      }),
    revokeAllForUser: (username, action, nowMs, ip) =>
      handle.run('revoke identity verifications', async (db) => {
        const result = await db
          .updateTable('identity_verification')
          .set({ revoked_at: nowMs, revoked_ip: ip })
          .where('username', '=', username)
          .where('action', '=', action)
          .where('consumed_at', 'is', null)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows);
      }),
  };
}
