/** What happens after a correct password: a fresh session (no fixation) and where to send the user. */
import type { Request } from 'express';
import { isSafeRedirect } from '../authz/redirect.ts';
import { requiredLevel, type Authorizer } from '../authz/rules.ts';
import { normalisePath } from '../authz/path.ts';
import { isUnderPortalPath, portalBasePath } from '../session/cookie-domains.ts';
import { authenticationLevel, type AuthenticationMethod } from '../session/user-session.ts';
import type { AuditLog } from '../log/audit.ts';
import { SessionStoreUnavailable } from '../session/store.ts';
import type { UserDetails } from '../users/provider.ts';
import { pinCookieLifetime, regenerate, save } from './session-middleware.ts';
import { indexSession } from './session-index.ts';
import type { UserSessionRepository } from '../storage/user-sessions.ts';

/** What signed the user in: the factors it proved and the method the audit line names. */
export interface SignInProof {
  amr: AuthenticationMethod[];
  method: string;
  /** it proved a second factor too (a passkey that verified its user): counts for elevation as one does */
  secondFactor: boolean;
}

const PASSWORD: SignInProof = { amr: ['pwd'], method: 'portal', secondFactor: false };

/**
 * The login is audited as a success only once its session is saved; when the store fails the audit
 * says so and SessionStoreUnavailable propagates (the portal answers 503 and sets no cookie).
 * With `sessionIndex` the session is listed among the user's signed-in sessions before it is saved
 * (a session that could not be listed, and so not ended from another device, is not made).
 */
export async function establishSession(
  req: Request, user: UserDetails, keepMeLoggedIn: boolean, now: number, audit: AuditLog, ip: string,
  sessionIndex?: Pick<UserSessionRepository, 'add' | 'move'>, proof: SignInProof = PASSWORD,
): Promise<void> {
  try {
    await saveNewSession(req, user, keepMeLoggedIn, now, ip, proof, sessionIndex);
  } catch (error) {
    if (error instanceof SessionStoreUnavailable) audit.notSaved({ rhost: ip, user: user.username, method: proof.method, reason: 'session store unavailable' });
    throw error;
  }
  audit.success({ rhost: ip, user: user.username, method: proof.method });
}

async function saveNewSession(
  req: Request, user: UserDetails, keepMeLoggedIn: boolean, now: number, ip: string, proof: SignInProof,
  sessionIndex?: Pick<UserSessionRepository, 'add' | 'move'>,
): Promise<void> {
  const domain = req.cookieDomain!;
  await regenerate(req);
  const keep = keepMeLoggedIn && domain.rememberMe > 0;
  req.session.identity = { username: user.username, displayName: user.displayName, emails: user.emails, groups: user.groups };
  req.session.sid = req.sessionID;
  req.session.credentialStamp = user.credentialStamp;
  req.session.amr = [...proof.amr];
  req.session.firstFactorAt = now;
  if (proof.secondFactor) req.session.secondFactorAt = now;
  req.session.lastActivity = now;
  req.session.cookieDomain = domain.domain;
  req.session.keepMeLoggedIn = keep;
  // measured on the clock that checks it (sessionState), not express-session's own Date.now()
  req.session.expiresAt = now + (keep ? domain.rememberMe : domain.expiration) * 1000;
  pinCookieLifetime(req.session);
  if (sessionIndex) await indexSession(req, sessionIndex, user.username, ip, now);
  await save(req);
}

export type AfterLogin = { redirect: string } | { secondFactorRequired: true } | null;

/**
 * Follow `target` only when it is safe and this session's level is enough for it; when the target
 * needs a second factor the portal carries on there; otherwise the domain's default URL, if any.
 */
export function redirectAfterLogin(req: Request, target: string | undefined, method: string | undefined, authorizer: Authorizer, ip: string): AfterLogin {
  const domain = req.cookieDomain!;
  const identity = req.session.identity;
  if (!identity) return null;
  const level = authenticationLevel(req.session.amr);
  const url = target ? isSafeRedirect(target, [domain.domain]) : null;
  // the portal's own pages (the OpenID Connect interaction, settings) stand behind their route-table
  // guards, not behind access_control: coming back to one is always allowed
  if (url && url.origin === domain.portalUrl.origin && isUnderPortalPath(url.pathname, portalBasePath(domain.portalUrl))) return { redirect: url.href };
  if (url) {
    const path = normalisePath(url.pathname + url.search);
    if (path !== null) {
      const decision = authorizer.evaluate(
        { host: url.hostname.toLowerCase(), path, method: /^[A-Z]{1,16}$/.test(method ?? '') ? method! : 'GET', ip },
        { username: identity.username, groups: identity.groups },
      );
      if (decision.policy !== 'deny' && level >= requiredLevel(decision.policy)) return { redirect: url.href };
      if (decision.policy === 'two_factor' && level < 2) return { secondFactorRequired: true };
    }
  }
  return domain.defaultRedirectionUrl ? { redirect: domain.defaultRedirectionUrl.href } : null;
}

