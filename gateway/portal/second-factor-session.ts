/**
 * What happens after a second factor is proven: the session gets a new id (a session fixed before the
 * second factor is not the one that holds it), the factor is added to its AMR, and the time is kept
 * for elevation (a second factor in the last `elevation_lifespan` counts as proving identity again).
 */
import type { Request } from 'express';
import type { AuthenticationMethod } from '../session/user-session.ts';
import { pinCookieLifetime, regenerate, save } from './session-middleware.ts';

/** Adds `method` to the session's factors under a fresh session id, keeping everything else. */
export async function completeSecondFactor(req: Request, method: AuthenticationMethod, now: number): Promise<void> {
  const { cookie: _cookie, ...kept } = req.session;
  await regenerate(req);
  Object.assign(req.session, kept);
  req.session.sid = req.sessionID;
  req.session.amr = [...new Set([...(kept.amr ?? []), method])];
  req.session.secondFactorAt = now;
  req.session.lastActivity = now;
  pinCookieLifetime(req.session);
  await save(req);
}

/** Marks the session elevated until `until` (ms epoch), as an e-mailed one-time code does. */
export async function elevateSession(req: Request, until: number): Promise<void> {
  req.session.elevatedUntil = until;
  await save(req);
}
