/**
 * express-session for the portal, one cookie per configured domain: the request's host picks the
 * domain (and so the cookie name, Domain attribute and lifetimes).
 */
import session, { type Session, type SessionData } from 'express-session';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { portalDomainOf, type CookieDomain, type PortalCookieDomain } from '../session/cookie-domains.ts';
import type { SessionStore } from '../session/store.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** The cookie domain this portal request belongs to, with its portal URL (set by the session middleware). */
    cookieDomain?: PortalCookieDomain;
  }
}

/** Sessions made by regenerate() in this process: the only signed-in sessions a save may create. */
const created = new WeakSet<object>();

/**
 * The store as express-session sees it: a save of a signed-in session it did not just create (the save
 * at the end of every request that changed the session) only updates a session still in the store. A
 * request in flight while the session was signed out elsewhere ("sign out everywhere", a logout) would
 * otherwise write it back, and the thief whose session was ended would be signed in again.
 */
function savesOnlyLiveSessions(sessions: SessionStore): session.Store {
  const inner = sessions.store;
  const outer = Object.create(inner) as session.Store;
  outer.set = (sid, data, cb) => {
    if (!data.identity || created.has(data)) return inner.set(sid, data, cb);
    sessions.refresh(sid, data).then(() => cb?.(), (error: unknown) => cb?.(error));
  };
  return outer;
}

/** `isTrustedProxy`: whether a peer's X-Forwarded-Proto and -Host are believed (a legacy cookie's portal URL is made of them). */
export function portalSessions(domains: readonly CookieDomain[], store: SessionStore, secret: string, isTrustedProxy: (ip: string) => boolean): RequestHandler {
  const byDomain = new Map<string, RequestHandler>();
  for (const d of domains) {
    byDomain.set(
      d.domain,
      session({
        name: d.name,
        secret,
        store: savesOnlyLiveSessions(store),
        resave: false,
        saveUninitialized: false,
        rolling: false,
        unset: 'destroy',
        cookie: {
          domain: d.cookieDomainAttribute,
          path: '/',
          httpOnly: true,
          secure: d.secure,
          sameSite: d.sameSite,
          // no maxAge: a browser-session cookie unless the login asked to be remembered (see pinCookieLifetime)
        },
      }),
    );
  }
  return (req: Request, res: Response, next: NextFunction) => {
    const found = portalDomainOf({ hostname: req.hostname, host: req.host, protocol: req.protocol, fromTrustedProxy: isTrustedProxy(req.socket.remoteAddress ?? ''), basePath: req.baseUrl }, domains);
    if ('refused' in found) {
      const message =
        found.refused === 'foreign-host'
          ? `The host '${req.hostname}' is not under any session.cookies domain.`
          : "The portal's URL is not known: session.cookies[].authelia_url is not set, and no proxy in server.trusted_proxies sent X-Forwarded-Proto (https) and X-Forwarded-Host.";
      res.status(400).json({ status: 'KO', message });
      return;
    }
    const domain = found.domain;
    req.cookieDomain = domain;
    byDomain.get(domain.domain)!(req, res, (error?: unknown) => {
      if (!error && req.session) pinCookieLifetime(req.session);
      next(error);
    });
  };
}

/**
 * The cookie's lifetime follows the session's kind, whenever express-session sends it: a "keep me
 * logged in" session's cookie expires with the session (expiresAt, never slid past it), any other is
 * a browser-session cookie (no Expires, no Max-Age) while the server still applies expiration and
 * inactivity. express-session re-derives Expires from originalMaxAge when it sends the cookie, so
 * setting `expires` here (which resets originalMaxAge) is enough.
 */
export function pinCookieLifetime(s: Session & Partial<SessionData>): void {
  s.cookie.expires = s.keepMeLoggedIn === true && typeof s.expiresAt === 'number' ? new Date(s.expiresAt) : null;
}

/** A new session (new id) for the request; a save may create it in the store (see savesOnlyLiveSessions). */
export function regenerate(req: Request): Promise<void> {
  return new Promise((resolve, reject) =>
    req.session.regenerate((err: unknown) => {
      if (err) return reject(err);
      created.add(req.session);
      resolve();
    }),
  );
}

export function save(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.save((err: unknown) => (err ? reject(err) : resolve())));
}

/** Tells the browser to drop the session cookie of the request's cookie domain (after a sign-out). */
export function clearSessionCookie(req: Request, res: Response): void {
  const domain = req.cookieDomain!;
  res.clearCookie(domain.name, { domain: domain.cookieDomainAttribute, path: '/', secure: domain.secure, httpOnly: true, sameSite: domain.sameSite });
}

export function destroy(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.destroy((err: unknown) => (err ? reject(err) : resolve())));
}
