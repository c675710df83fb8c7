/** Who the portal request's session belongs to, as the portal pages, API and guards see it. */
import type { Request } from 'express';
import { currentUser, sessionState } from '../session/reader.ts';
import type { UserDetails } from '../users/provider.ts';
import type { PortalDeps } from './deps.ts';

/** The session's user as the portal should see it: null unless current (domain, expiry, inactivity). */
export async function currentIdentity(req: Request, deps: Pick<PortalDeps, 'users' | 'now'>): Promise<UserDetails | null> {
  const s = req.session;
  if (!s?.identity || !req.cookieDomain) return null;
  if (s.sid !== req.sessionID || sessionState(s, req.cookieDomain, deps.now()) !== 'current') return null;
  // as forward auth does: details from the backend now; a removed or disabled user is not logged in
  return await currentUser(s, deps.users);
}
