/**
 * The portal's side of the per-user session index (storage/user-sessions.ts): a session is indexed when
 * it is made, follows its new id after a second factor, is touched at most once a minute by portal
 * requests (never by forward auth: that path stays free of database writes), and is listed and ended
 * from the settings page and the API. A listed session whose data is gone from the store (expired,
 * signed out elsewhere) is dropped from the index as it is listed.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { SessionData } from 'express-session';
import { sessionHash, type UserSession, type UserSessionRepository } from '../storage/user-sessions.ts';
import type { SessionStore } from '../session/store.ts';
import { requestIp, type PortalDeps } from './deps.ts';

declare module 'express-session' {
  interface SessionData {
    /** the hash this session is indexed under in user_sessions (differs from its id's after a new id) */
    indexedHash?: string;
    /** epoch ms of the last time the index heard of this session */
    indexSeenAt?: number;
  }
}

/** How often a portal request may write "last seen" to the database. */
export const LAST_SEEN_INTERVAL_MS = 60_000;
const USER_AGENT_MAX = 256;

export function userAgentOf(req: Request): string {
  const agent = req.headers?.['user-agent'] ?? '';
  return agent.replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, USER_AGENT_MAX);
}

type IndexRepository = Pick<UserSessionRepository, 'add' | 'move'>;

/**
 * Indexes the request's session under its current id (moving the row it was indexed under before, if
 * any) and records that in the session; the caller saves the session.
 */
export async function indexSession(req: Request, index: IndexRepository, username: string, ip: string, now: number): Promise<void> {
  const hash = sessionHash(req.sessionID);
  const before = req.session.indexedHash;
  const moved = before !== undefined && before !== hash && (await index.move(username, before, req.sessionID, now, ip));
  if (!moved) await index.add({ sessionId: req.sessionID, username, nowMs: now, remoteIp: ip, userAgent: userAgentOf(req) });
  req.session.indexedHash = hash;
  req.session.indexSeenAt = now;
}

/**
 * Portal requests keep the index current: a signed-in session not yet indexed under its id is
 * (re)indexed, and "last seen" is written at most once a minute. A failure here is logged, not shown:
 * the page itself does not depend on it.
 */
export function sessionActivity(deps: Pick<PortalDeps, 'storage' | 'now' | 'isTrustedProxy' | 'logger'>): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    const s = req.session;
    const username = s?.identity?.username;
    const now = deps.now();
    // an expired session is not brought back into the list (the guards refuse it anyway)
    if (!username || s.sid !== req.sessionID || !(typeof s.expiresAt === 'number' && s.expiresAt > now)) return next();
    const indexed = s.indexedHash === sessionHash(req.sessionID);
    if (indexed && now - (s.indexSeenAt ?? 0) < LAST_SEEN_INTERVAL_MS) return next();
    const ip = requestIp(req, deps);
    const work = indexed
      ? deps.storage.userSessions.touch(req.sessionID, now, ip).then(() => { s.indexSeenAt = now; })
      : indexSession(req, deps.storage.userSessions, username, ip, now);
    work.catch((error: unknown) => deps.logger.warn({ err: error }, 'portal: the session index could not be updated')).finally(() => next());
  };
}

export interface ListedSession extends UserSession {
  current: boolean;
}

type SessionDeps = { storage: { userSessions: UserSessionRepository }; sessions: Pick<SessionStore, 'get' | 'destroy'>; now: () => number; sessionEnded?: PortalDeps['sessionEnded'] };

/** The session's data when it still signs `username` in, else null. */
function liveFor(data: SessionData | null, username: string, now: number): boolean {
  return data !== null && data.identity?.username === username && typeof data.expiresAt === 'number' && data.expiresAt > now;
}

async function storedId(deps: SessionDeps, username: string, hash: string): Promise<string | undefined> {
  try {
    return await deps.storage.userSessions.sessionId(username, hash);
  } catch {
    // sealed under another key or damaged: the row cannot name its session any more
    return undefined;
  }
}

/** The user's sessions still alive in the store, most recent first; the others are dropped from the index. */
export async function listUserSessions(deps: SessionDeps, username: string, currentSessionId: string): Promise<ListedSession[]> {
  const now = deps.now();
  const current = sessionHash(currentSessionId);
  const listed: ListedSession[] = [];
  for (const row of await deps.storage.userSessions.listByUser(username)) {
    const sid = await storedId(deps, username, row.sessionHash);
    const alive = row.sessionHash === current || (sid !== undefined && liveFor(await deps.sessions.get(sid), username, now));
    if (alive) listed.push({ ...row, current: row.sessionHash === current });
    else await deps.storage.userSessions.remove(username, row.sessionHash);
  }
  return listed;
}

/** Ends the user's session `hash` in the store and drops it from the index; false when it is not theirs. */
export async function endUserSession(deps: SessionDeps, username: string, hash: string): Promise<boolean> {
  const sid = await storedId(deps, username, hash);
  if (sid !== undefined) {
    const data = await deps.sessions.get(sid);
    // only a session that is this user's: a row cannot be used to end someone else's
    if (data?.identity?.username === username) {
      await deps.sessionEnded?.(data);
      await deps.sessions.destroy(sid);
    }
  }
  return await deps.storage.userSessions.remove(username, hash);
}

/**
 * Ends every indexed session of the user but the one with id `keepSessionId` (a password change keeps
 * the session that made it); returns how many were ended.
 */
export async function endAllUserSessions(deps: SessionDeps, username: string, keepSessionId?: string): Promise<number> {
  const kept = keepSessionId === undefined ? undefined : sessionHash(keepSessionId);
  let ended = 0;
  for (const row of await deps.storage.userSessions.listByUser(username)) {
    if (row.sessionHash === kept) continue;
    if (await endUserSession(deps, username, row.sessionHash)) ended += 1;
  }
  return ended;
}

/** At sign-out: the session leaves the index (logged, not fatal: the store's copy is destroyed regardless). */
export async function forgetSession(req: Request, deps: Pick<PortalDeps, 'storage' | 'logger'>): Promise<void> {
  const username = req.session?.identity?.username;
  if (!username) return;
  const hashes = new Set([sessionHash(req.sessionID), req.session.indexedHash].filter((h): h is string => h !== undefined));
  try {
    for (const hash of hashes) await deps.storage.userSessions.remove(username, hash);
  } catch (error) {
    deps.logger.warn({ err: error }, 'portal: a signed-out session could not be removed from the index');
  }
}
