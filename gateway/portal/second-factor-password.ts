/**
 * The password as the second factor, for a session that began with a passkey its authenticator did
 * not verify the user for (AMR `hwk` alone: one factor). Its second factor is the knowledge it lacks:
 * the account's password, checked as a sign-in's is (regulated, limited, audited). Authelia 4.39's
 * `POST /api/secondfactor/password`, and the password tab of the /2fa page.
 */
import type { Request } from 'express';
import type { CodeCheck } from './second-factor-check.ts';
import { requestIp, type PortalDeps } from './deps.ts';
import { completeSecondFactor } from './second-factor-session.ts';
import { signedInUser } from './guards.ts';

/** Whether the session still lacks the password (it signed in with a passkey alone). */
export function needsPasswordStep(req: Request): boolean {
  return !(req.session.amr ?? []).includes('pwd');
}

/**
 * Checks `password` against the session's own user and, when right, adds it to the session's factors
 * under a new session id. A session that already proved its password gets `not_registered` (nothing to
 * add, nothing checked).
 */
export async function checkSessionPassword(deps: PortalDeps, req: Request, password: string, target: { uri: string; method: string }): Promise<CodeCheck & { busy?: { retryAfterSeconds: number; message: string } }> {
  if (!needsPasswordStep(req)) return { ok: false, reason: 'not_registered' };
  const user = signedInUser(req);
  const ip = requestIp(req, deps);
  const result = await deps.firstFactor.verify({ username: user.username, password, ip, method: 'portal', requestUri: target.uri, requestMethod: target.method });
  if (!result.ok) {
    if (result.busy) return { ok: false, reason: 'invalid', busy: result.busy };
    if (result.lockedOut) return { ok: false, reason: 'locked_out', ...(result.lockedOut.until !== undefined ? { until: result.lockedOut.until } : {}) };
    return { ok: false, reason: 'invalid' };
  }
  // the login resolved to the session's own account (a password is checked for that name only)
  if (result.user.username !== user.username) return { ok: false, reason: 'invalid' };
  await completeSecondFactor(req, 'pwd', deps.now(), { sessions: deps.storage.userSessions, ip });
  return { ok: true };
}
