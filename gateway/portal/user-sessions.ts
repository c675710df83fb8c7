/**
 * Signed-in sessions, for their user: listed (JSON), and signed out one by one or everywhere (JSON and
 * the settings page's forms). Sessions are named by the SHA-256 of their id (`id` in the API): it finds
 * the session without being able to sign anyone in. Ending the request's own session also clears its cookie.
 */
import type { Request, Response } from 'express';
import { sessionHash } from '../storage/user-sessions.ts';
import { requestIp, type PortalDeps } from './deps.ts';
import { signedInUser } from './guards.ts';
import { endAllUserSessions, endUserSession, listUserSessions, type ListedSession } from './session-index.ts';
import { clearSessionCookie, destroy } from './session-middleware.ts';

const isSessionId = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);

/** One session as the API shows it (Authelia's style: snake_case, RFC 3339 times). */
export function sessionJson(session: ListedSession) {
  return {
    id: session.sessionHash,
    created_at: new Date(session.createdAt).toISOString(),
    last_seen_at: new Date(session.lastSeenAt).toISOString(),
    ip: session.remoteIp,
    user_agent: session.userAgent,
    current: session.current,
  };
}

/** Ends the user's session `id` (their own included); 'own' when it was the request's, null when not theirs. */
async function signOutOne(req: Request, deps: PortalDeps, id: string): Promise<'own' | 'other' | null> {
  const username = signedInUser(req).username;
  const own = id === sessionHash(req.sessionID);
  if (!(await endUserSession(deps, username, id))) return null;
  deps.audit.account({ rhost: requestIp(req, deps), user: username, what: 'session signed out', detail: own ? 'this session' : id.slice(0, 12) });
  if (own && req.session) await destroy(req);
  return own ? 'own' : 'other';
}

async function signOutAll(req: Request, deps: PortalDeps): Promise<number> {
  const username = signedInUser(req).username;
  const ended = await endAllUserSessions(deps, username);
  deps.audit.account({ rhost: requestIp(req, deps), user: username, what: 'every session signed out', detail: String(ended) });
  if (req.session) await destroy(req);
  return ended;
}

/** GET /api/user/sessions */
export function listSessionsHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const sessions = await listUserSessions(deps, signedInUser(req).username, req.sessionID);
    res.json({ status: 'OK', data: { sessions: sessions.map(sessionJson) } });
  };
}

/** DELETE /api/user/sessions/:id */
export function deleteSessionHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const id = req.params.id;
    const ended = isSessionId(id) ? await signOutOne(req, deps, id) : null;
    if (ended === null) {
      res.status(404).json({ status: 'KO', message: 'No such session.' });
      return;
    }
    if (ended === 'own') clearSessionCookie(req, res);
    res.json({ status: 'OK' });
  };
}

/** DELETE /api/user/sessions: every session of the user, this one included. */
export function deleteAllSessionsHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const ended = await signOutAll(req, deps);
    clearSessionCookie(req, res);
    res.json({ status: 'OK', data: { ended } });
  };
}

/** POST /settings/sessions/:id/delete: back to the settings page, or to sign in when it was this session. */
export function deleteSessionForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const id = req.params.id;
    const ended = isSessionId(id) ? await signOutOne(req, deps, id) : null;
    if (ended === 'own') {
      clearSessionCookie(req, res);
      return res.redirect(303, `${req.baseUrl}/`);
    }
    res.redirect(303, `${req.baseUrl}/settings${ended === null ? '?sessions=unknown' : '?sessions=ended'}#sessions`);
  };
}

/** POST /settings/sessions/delete-all */
export function deleteAllSessionsForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    await signOutAll(req, deps);
    clearSessionCookie(req, res);
    res.redirect(303, `${req.baseUrl}/`);
  };
}
