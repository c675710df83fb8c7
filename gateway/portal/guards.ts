/**
 * The guards a portal route can stand behind, each written once. The route table names one per row;
 * a row's handler runs only after its guard let the request through, and reads the user it found.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { InternalError } from '../../lib/errors.ts';
import { authenticationLevel } from '../session/user-session.ts';
import type { UserDetails } from '../users/provider.ts';
import { currentIdentity } from './current-user.ts';
import type { PortalDeps } from './deps.ts';

declare module 'express-session' {
  interface SessionData {
    /**
     * Epoch ms until which the session counts as elevated: its user confirmed their identity again
     * recently (an e-mailed one-time code), as changing their own settings requires.
     */
    elevatedUntil?: number;
  }
}

declare module 'express-serve-static-core' {
  interface Request {
    /** The session's user as the backend knows them now, set by a guard that needs a session. */
    signedInUser?: UserDetails;
  }
}

/** `PUBLIC`: anyone. `LEVEL_1`: a current session with one factor. `LEVEL_2`: two factors. `ELEVATED`: one factor, elevated recently. */
const PORTAL_GUARDS = ['PUBLIC', 'LEVEL_1', 'LEVEL_2', 'ELEVATED'] as const;
export type PortalGuard = (typeof PORTAL_GUARDS)[number];

/** What the session has, as far as a guard looks: its user (null without a current session), level and elevation. */
export interface SessionStanding {
  user: UserDetails | null;
  level: number;
  elevatedUntil: number | undefined;
  /** When the session last proved a second factor (ms epoch); one that recent counts as elevation. */
  secondFactorAt?: number | undefined;
  /** identity_validation.elevated_session.elevation_lifespan in ms (0: a second factor never elevates). */
  elevationLifespanMs?: number;
  /** identity_validation.elevated_session.skip_second_factor: a session with two factors needs no code. */
  skipSecondFactor?: boolean;
  /**
   * require_second_factor is set and the user has a second factor: only a session that proved one may be
   * elevated, whatever code it used before (Authelia's RequireElevated checks this at every request).
   */
  secondFactorRequired?: boolean;
}

/**
 * The one definition of "elevated" (the ELEVATED guard's, and what the elevation API reports): a code
 * proved the person until `elevatedUntil`, or the session has two factors and either
 * skip_second_factor is set or the second factor is younger than the elevation lifespan.
 */
export function elevatedAt(standing: Omit<SessionStanding, 'user' | 'secondFactorRequired'>, now: number): boolean {
  // an elevation ends at elevatedUntil, measured on the clock the sessions use
  if (typeof standing.elevatedUntil === 'number' && standing.elevatedUntil > now) return true;
  if (standing.level < 2) return false;
  if (standing.skipSecondFactor === true) return true;
  // a second factor proven within the elevation lifespan proves the person as well as a mailed code
  return typeof standing.secondFactorAt === 'number' && now < standing.secondFactorAt + (standing.elevationLifespanMs ?? 0);
}

/** Why a guard refused, or null when it lets the request through. */
export type GuardRefusal = 'no-session' | 'level-too-low' | 'not-elevated';

export function guardRefusal(guard: PortalGuard, standing: SessionStanding, now: number): GuardRefusal | null {
  if (guard === 'PUBLIC') return null;
  if (!standing.user || standing.level < 1) return 'no-session';
  switch (guard) {
    case 'LEVEL_1':
      return null;
    case 'LEVEL_2':
      return standing.level < 2 ? 'level-too-low' : null;
    case 'ELEVATED':
      // deny: an elevation by code does not stand in for the second factor the user has and must use
      if (standing.secondFactorRequired === true && standing.level < 2) return 'level-too-low';
      return elevatedAt(standing, now) ? null : 'not-elevated';
    default:
      // a guard this function does not know lets nobody through
      return 'no-session';
  }
}

/** Whether the user has an authenticator app or a security key registered (recovery codes stand in for one, they are not one). */
export async function hasSecondFactor(deps: Pick<PortalDeps, 'storage'>, username: string): Promise<boolean> {
  const [totp, keys] = await Promise.all([deps.storage.totp.load(username), deps.storage.webauthn.list(username)]);
  return totp !== undefined || keys.length > 0;
}

/** The portal's answer has been 403 `Unauthorized` for a request without a session (Authelia's too). */
const REFUSALS: Readonly<Record<GuardRefusal, string>> = {
  'no-session': 'Unauthorized',
  'level-too-low': 'A second factor is required.',
  'not-elevated': 'Confirm your identity again to continue.',
};

/**
 * Where a page row sends a browser its guard refused, relative to the portal's base: to sign in, to
 * the second-factor step, or to confirm their identity, each coming back to the page afterwards.
 */
function refusedPage(refusal: GuardRefusal, req: Request): string {
  const base = `${req.baseUrl}/`;
  const here = `${req.cookieDomain!.portalUrl.origin}${req.originalUrl}`;
  switch (refusal) {
    case 'no-session':
      return `${base}?rd=${encodeURIComponent(here)}`;
    case 'level-too-low':
      return `${base}2fa?rd=${encodeURIComponent(here)}`;
    case 'not-elevated':
      return `${base}elevate?rd=${encodeURIComponent(here)}`;
  }
}

/**
 * The middleware for a guard that needs a session (none for `PUBLIC`). It runs after the session
 * middleware. A JSON row answers a refusal with 403; a page row (`page`) redirects the browser to the
 * step that would let it through.
 */
export function guardMiddleware(guard: Exclude<PortalGuard, 'PUBLIC'>, deps: Pick<PortalDeps, 'users' | 'now' | 'secondFactor' | 'storage'>, page = false): RequestHandler {
  const elevationLifespanMs = deps.secondFactor.identityValidation.elevated_session.elevation_lifespan * 1000;
  const requireSecondFactor = guard === 'ELEVATED' && deps.secondFactor.identityValidation.elevated_session.require_second_factor === true;
  return async (req: Request, res: Response, next: NextFunction) => {
    const user = await currentIdentity(req, deps);
    const level = user ? authenticationLevel(req.session.amr) : 0;
    const standing = {
      user,
      level,
      // asked only when it matters; a storage error refuses the request (the error handler's 503)
      secondFactorRequired: requireSecondFactor && user !== null && level < 2 && (await hasSecondFactor(deps, user.username)),
      elevatedUntil: req.session?.elevatedUntil,
      secondFactorAt: req.session?.secondFactorAt,
      elevationLifespanMs,
      skipSecondFactor: deps.secondFactor.identityValidation.elevated_session.skip_second_factor,
    };
    const refusal = guardRefusal(guard, standing, deps.now());
    if (refusal !== null) {
      if (page && (req.method === 'GET' || req.method === 'HEAD')) return res.redirect(303, refusedPage(refusal, req));
      res.status(403).json({ status: 'KO', message: REFUSALS[refusal] });
      return;
    }
    req.signedInUser = user!;
    next();
  };
}

/** The user a guard found; a handler behind `PUBLIC` has none, and asking is a mistake in the table. */
export function signedInUser(req: Request): UserDetails {
  if (!req.signedInUser) throw new InternalError('route_table_invalid', 'route table: a handler that needs a user is behind the PUBLIC guard');
  return req.signedInUser;
}
