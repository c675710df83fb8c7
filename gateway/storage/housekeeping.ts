/**
 * Forgetting rows nobody can use any more, so the self-service tables do not grow for ever: one-time
 * codes and reset links a week after they expired (kept that long so an audit can still see them used
 * or revoked), the session index's rows of sessions older than the longest a session can live, and the
 * OpenID Connect provider's codes, tokens, grants and sessions once expired (they are unusable then).
 */
import type { DatabaseHandle } from './handle.ts';

/** How long an expired one-time code or reset link stays in the database. */
export const EXPIRED_KEPT_MS = 7 * 86_400_000;

export interface HousekeepingRepository {
  /**
   * Deletes what expired before `nowMs - EXPIRED_KEPT_MS`, and session-index rows created before
   * `nowMs - longestSessionMs` (such a session has ended, whatever it did since), and OpenID Connect
   * payloads expired at `nowMs`; returns how many.
   */
  pruneExpired(nowMs: number, longestSessionMs: number): Promise<{ oneTimeCodes: number; resetLinks: number; sessions: number; oidcPayloads: number; oidcSessionLinks: number }>;
}

export function housekeepingRepository(handle: DatabaseHandle): HousekeepingRepository {
  const count = (result: readonly { numDeletedRows: bigint }[]) => Number(result.reduce((sum, r) => sum + r.numDeletedRows, 0n));
  return {
    pruneExpired: (nowMs, longestSessionMs) =>
      handle.run('forget expired codes, links and sessions', async (db) => ({
        oneTimeCodes: count(await db.deleteFrom('one_time_codes').where('expires_at', '<', nowMs - EXPIRED_KEPT_MS).execute()),
        resetLinks: count(await db.deleteFrom('identity_verification').where('expires_at', '<', nowMs - EXPIRED_KEPT_MS).execute()),
        sessions: count(await db.deleteFrom('user_sessions').where('created_at', '<', nowMs - longestSessionMs).execute()),
        oidcPayloads: count(await db.deleteFrom('oidc_payloads').where('expires_at', '<=', nowMs).execute()),
        // a provider session lives no longer than the gateway session that started it
        oidcSessionLinks: count(await db.deleteFrom('oidc_session_links').where('created_at', '<', nowMs - longestSessionMs).execute()),
      })),
  };
}
