/**
 * Reading a session without express-session: the forward-auth hot path and the portal agree here on
 * what makes a session current (its cookie domain, expiry and inactivity), and activity is written
 * back at most once per ACTIVITY_REFRESH_MS.
 */
import type { KeyObject } from 'node:crypto';
import type { SessionData } from 'express-session';
import type { Logger } from 'pino';
import type { CookieDomain } from './cookie-domains.ts';
import { readCookie, unsignSessionId } from './signed-cookie.ts';
import type { SessionStore } from './store.ts';
import type { UserDetails, UserProvider } from '../users/provider.ts';

const ACTIVITY_REFRESH_MS = 5_000;
const VERIFIED_COOKIES_MAX = 20_000;

export type SessionState = 'current' | 'expired' | 'inactive' | 'foreign';

/**
 * The session's user as the backend knows them now, or null: removed, disabled, or their credential
 * changed since this session was made. Forward auth and the portal both ask here. At once when the
 * provider has the details in memory (the common case), else a promise.
 */
export function currentUser(
  data: Partial<SessionData>,
  users: Pick<UserProvider, 'getDetails' | 'peekDetails'>,
): UserDetails | null | Promise<UserDetails | null> {
  if (!data.identity) return null;
  // a session without a stamp was not made by a login of this credential: no user
  const stamp = data.credentialStamp;
  const sameCredential = (user: UserDetails | null) => (user && typeof stamp === 'string' && stamp !== '' && user.credentialStamp === stamp ? user : null);
  const known = users.peekDetails?.(data.identity.username);
  return known !== undefined ? sameCredential(known) : users.getDetails(data.identity.username).then(sameCredential);
}

/** Why a stored session may not be used now ('current' when it may). */
export function sessionState(data: Partial<SessionData>, domain: CookieDomain, now: number): SessionState {
  if (data.cookieDomain !== domain.domain) return 'foreign';
  // a session without an absolute expiry was not made by a login: never current
  if (!(typeof data.expiresAt === 'number' && data.expiresAt > now)) return 'expired';
  if (!data.keepMeLoggedIn && domain.inactivity > 0 && !(now - (data.lastActivity ?? 0) <= domain.inactivity * 1000)) return 'inactive';
  return 'current';
}

export interface SessionReaderDeps {
  sessions: SessionStore;
  /** The cookie signing key (see cookieSigningKey). */
  key: KeyObject;
  logger: Logger;
  now: () => number;
}

export interface ReadSession {
  sid: string;
  data: SessionData;
}

export interface SessionReader {
  /**
   * The current session named by the request's cookie for `domain`, or null: at once when the session
   * is in memory, else a promise. Store errors propagate (and become a deny).
   */
  read(cookieHeader: string | undefined, domain: CookieDomain): ReadSession | null | Promise<ReadSession | null>;
}

export function createSessionReader(deps: SessionReaderDeps): SessionReader {
  // cookie values whose signature was already checked, so a repeat costs a lookup, not an HMAC;
  // only values that verified are ever stored, so a hit is as good as the check
  const verified = new Map<string, string>();
  const sessionIdOf = (raw: string): string | null => {
    const known = verified.get(raw);
    if (known !== undefined) return known;
    const sid = unsignSessionId(raw, deps.key);
    if (sid !== null) {
      if (verified.size >= VERIFIED_COOKIES_MAX) verified.clear();
      verified.set(raw, sid);
    }
    return sid;
  };

  const current = (sid: string, data: SessionData | null, domain: CookieDomain): ReadSession | null => {
    if (!data || !data.identity) return null;
    // deny: a value copied from another session's key (see SessionData.sid)
    if (data.sid !== sid) return null;
    const now = deps.now();
    const state = sessionState(data, domain, now);
    if (state !== 'current') {
      // a failure is the store's to report (its outage log), not one line per request here
      if (state !== 'foreign') deps.sessions.destroy(sid).catch(() => {});
      return null;
    }
    if (now - (data.lastActivity ?? 0) >= ACTIVITY_REFRESH_MS) {
      data.lastActivity = now;
      deps.sessions.refresh(sid, data).catch(() => {});
    }
    return { sid, data };
  };

  return {
    read(cookieHeader, domain) {
      const raw = readCookie(cookieHeader, domain.name);
      if (raw === null) return null;
      const sid = sessionIdOf(raw);
      if (sid === null) return null;
      const cached = deps.sessions.peek(sid);
      if (cached !== undefined) return current(sid, cached, domain);
      return deps.sessions.get(sid).then((data) => current(sid, data, domain));
    },
  };
}
