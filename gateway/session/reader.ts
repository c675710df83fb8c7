/**
 * Reading a session without express-session: the forward-auth hot path and the portal agree here on
 * what makes a session current (its cookie domain, expiry and inactivity), and activity is written
 * back at most once per ACTIVITY_REFRESH_MS.
 */
import type { SessionData } from 'express-session';
import type { Logger } from 'pino';
import type { CookieDomain } from './cookie-domains.ts';
import { readCookie, unsignSessionId } from './signed-cookie.ts';
import type { SessionStore } from './store.ts';

export const ACTIVITY_REFRESH_MS = 5_000;

export type SessionState = 'current' | 'expired' | 'inactive' | 'foreign';

/** Why a stored session may not be used now ('current' when it may). */
export function sessionState(data: Partial<SessionData>, domain: CookieDomain, now: number): SessionState {
  if (data.cookieDomain !== domain.domain) return 'foreign';
  const expires = data.cookie?.expires ? new Date(data.cookie.expires).getTime() : NaN;
  if (!(expires > now)) return 'expired';
  if (!data.keepMeLoggedIn && domain.inactivity > 0 && !(now - (data.lastActivity ?? 0) <= domain.inactivity * 1000)) return 'inactive';
  return 'current';
}

export interface ReadSessionDeps {
  sessions: SessionStore;
  secret: string;
  logger: Logger;
  now: () => number;
}

/** The current session named by the request's cookie for `domain`, or null. Store errors propagate (deny). */
export async function readSession(cookieHeader: string | undefined, domain: CookieDomain, deps: ReadSessionDeps): Promise<{ sid: string; data: SessionData } | null> {
  const raw = readCookie(cookieHeader, domain.name);
  if (raw === null) return null;
  const sid = unsignSessionId(raw, deps.secret);
  if (sid === null) return null;
  const data = await deps.sessions.get(sid);
  if (!data || !data.identity) return null;
  const now = deps.now();
  const state = sessionState(data, domain, now);
  if (state !== 'current') {
    if (state !== 'foreign') deps.sessions.destroy(sid).catch((error: Error) => deps.logger.warn({ err: error.message }, 'session: could not destroy an expired session'));
    return null;
  }
  if (now - (data.lastActivity ?? 0) >= ACTIVITY_REFRESH_MS) {
    data.lastActivity = now;
    deps.sessions.set(sid, data).catch((error: Error) => deps.logger.warn({ err: error.message }, 'session: could not record activity'));
  }
  return { sid, data };
}
