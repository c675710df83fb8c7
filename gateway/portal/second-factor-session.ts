/**
 * What happens after a second factor is proven: the session gets a new id (a session fixed before the
 * second factor is not the one that holds it), the factor is added to its AMR, and the time is kept
 * for elevation (a second factor in the last `elevation_lifespan` counts as proving identity again).
 */
import type { Request } from 'express';
import type { AuthenticationMethod } from '../session/user-session.ts';
import type { UserSessionRepository } from '../storage/user-sessions.ts';
import { pinCookieLifetime, regenerate, save } from './session-middleware.ts';
import { indexSession } from './session-index.ts';

/**
 * Adds `method` to the session's factors under a fresh session id, keeping everything else. `index`
 * (deps.storage.userSessions and the client's address) makes the signed-in sessions list follow the new
 * id at once. It is required: an index row left naming the old, destroyed id cannot end the session
 * ("sign out everywhere" would destroy nothing), and a session used only through forward auth never
 * comes back to the portal to be re-indexed.
 */
export async function completeSecondFactor(
  req: Request, method: AuthenticationMethod, now: number,
  index: { sessions: Pick<UserSessionRepository, 'add' | 'move'>; ip: string },
): Promise<void> {
  const { cookie: _cookie, ...kept } = req.session;
  await regenerate(req);
  Object.assign(req.session, kept);
  req.session.sid = req.sessionID;
  req.session.amr = [...new Set([...(kept.amr ?? []), method])];
  req.session.secondFactorAt = now;
  req.session.lastActivity = now;
  pinCookieLifetime(req.session);
  const username = req.session.identity?.username;
  if (username) await indexSession(req, index.sessions, username, index.ip, now);
  await save(req);
}

/** Marks the session elevated until `until` (ms epoch), as an e-mailed one-time code does. */
export async function elevateSession(req: Request, until: number): Promise<void> {
  req.session.elevatedUntil = until;
  await save(req);
}
