/**
 * Signing in with WebAuthn, as Authelia 4.39's API: a security key as the second factor
 * (`/api/secondfactor/webauthn`, after a password) and a passkey alone (`/api/firstfactor/passkey`).
 * A passkey whose authenticator verified the user counts as two factors (AMR hwk + mfa) unless
 * `webauthn.experimental_enable_passkey_uv_two_factors` is off; otherwise it is one (hwk).
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { CeremonyRefusal } from '../secondfactor/webauthn.ts';
import type { AuthenticationMethod } from '../session/user-session.ts';
import { requestIp, type PortalDeps } from './deps.ts';
import { signedInUser } from './guards.ts';
import { establishSession, redirectAfterLogin } from './login.ts';
import { completeSecondFactor } from './second-factor-session.ts';
import { currentIdentity } from './current-user.ts';
import { ceremoniesOf, ko, ok, relyingParty, takeCeremony, WEBAUTHN_MESSAGES, webauthnOff } from './webauthn-common.ts';
import { save } from './session-middleware.ts';
import { createRateLimiter } from '../../lib/rate-limit.ts';

/** Passkey options per client address: each one is a session in the store, so a flood is cut short. */
export const PASSKEY_OPTIONS_LIMIT = { max: 30, windowMs: 60_000 };

const assertionBody = z.object({
  response: z.record(z.string(), z.unknown()),
  targetURL: z.string().max(4096).optional(),
  requestMethod: z.string().max(16).optional(),
  keepMeLoggedIn: z.boolean().optional(),
  // Authelia's OpenID Connect flow fields: accepted, not used (Gatehouse's portal has no such flow here)
  workflow: z.string().max(64).optional(),
  workflowID: z.string().max(128).optional(),
});

/** The audit's words for a refusal: the ceremony's reason, plus the detail for a signature or counter. */
function refusalText(reason: CeremonyRefusal, detail?: string): string {
  return detail ? `webauthn ${reason}: ${detail}` : `webauthn ${reason}`;
}

function answerTarget(req: Request, res: Response, deps: PortalDeps, body: { targetURL?: string | undefined; requestMethod?: string | undefined }, ip: string): void {
  const next = redirectAfterLogin(req, body.targetURL, body.requestMethod, deps.authorizer, ip);
  if (next && 'redirect' in next) return ok(res, { redirect: next.redirect });
  ok(res);
}

/** GET /api/secondfactor/webauthn: options for the user's security keys. */
export function webauthnAssertionOptions(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    if (webauthnOff(deps, res)) return;
    const user = signedInUser(req);
    const started = await ceremoniesOf(deps).assertionOptions(relyingParty(req, deps), user.username);
    if (!started) return ko(res, 403, WEBAUTHN_MESSAGES.failed);
    req.session.webauthnCeremony = started.ceremony;
    await save(req);
    ok(res, { publicKey: started.options });
  };
}

/** POST /api/secondfactor/webauthn: the assertion; a success adds `hwk` to the session under a new id. */
export function webauthnAssertion(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    if (webauthnOff(deps, res)) return;
    const user = signedInUser(req);
    const ip = requestIp(req, deps);
    const ceremony = takeCeremony(req);
    const parsed = assertionBody.safeParse(req.body);
    if (!parsed.success) return ko(res, 400, WEBAUTHN_MESSAGES.failed);
    const body = parsed.data;
    const attempt = { username: user.username, ip, authType: 'webauthn' as const, requestUri: body.targetURL ?? '', requestMethod: body.requestMethod ?? '' };
    // regulated before the signature is checked, as a password is
    const reservation = await deps.regulator.reserve(attempt);
    if (!reservation.admitted) {
      deps.audit.refused({ rhost: ip, user: user.username, method: 'webauthn', reason: reservation.reason });
      return ko(res, 403, WEBAUTHN_MESSAGES.failed);
    }
    const checked = await deps.regulator.checkReserved(reservation, () => ceremoniesOf(deps).verifyAssertion(relyingParty(req, deps), ceremony, body.response, user.username));
    await deps.regulator.settle(reservation, { ...attempt, successful: checked.ok });
    if (!checked.ok) {
      deps.audit.failure({ rhost: ip, user: user.username, method: 'webauthn', reason: refusalText(checked.reason, checked.detail) });
      if (checked.reason === 'counter_regression') deps.audit.account({ rhost: ip, user: user.username, what: 'webauthn clone warning', detail: checked.detail ?? '', failed: true });
      return ko(res, 403, WEBAUTHN_MESSAGES.failed);
    }
    // the signed-in sessions index follows the new id now: a session used only by forward auth after
    // this would otherwise be neither listed nor ended by "sign out everywhere"
    await completeSecondFactor(req, 'hwk', deps.now(), { sessions: deps.storage.userSessions, ip });
    deps.audit.success({ rhost: ip, user: user.username, method: 'webauthn' });
    answerTarget(req, res, deps, body, ip);
  };
}

/** Passkey rows exist only with `webauthn.enable_passkey_login` (and WebAuthn on). */
function passkeyOff(deps: PortalDeps, res: Response): boolean {
  if (deps.secondFactor.webauthn.enable_passkey_login) return webauthnOff(deps, res);
  ko(res, 404, 'Not found.');
  return true;
}

/** GET /api/firstfactor/passkey: options naming no user; only for someone not signed in. */
export function passkeyOptions(deps: PortalDeps) {
  const limiter = createRateLimiter({ perIp: PASSKEY_OPTIONS_LIMIT, now: deps.now });
  return async (req: Request, res: Response) => {
    if (passkeyOff(deps, res)) return;
    if (await currentIdentity(req, deps)) return ko(res, 403, WEBAUTHN_MESSAGES.failed);
    const ip = requestIp(req, deps);
    const limited = limiter.check({ ip });
    if (limited.limited) {
      res.set('Retry-After', String(limited.retryAfterSeconds));
      return ko(res, 429, 'Too many attempts: try again later.');
    }
    limiter.fail({ ip });
    const started = await ceremoniesOf(deps).passkeyOptions(relyingParty(req, deps));
    req.session.webauthnCeremony = started.ceremony;
    await save(req);
    ok(res, { publicKey: started.options });
  };
}

/** POST /api/firstfactor/passkey: the assertion of a discoverable credential starts a fresh session. */
export function passkeySignIn(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    if (passkeyOff(deps, res)) return;
    const ip = requestIp(req, deps);
    const ceremony = takeCeremony(req);
    const parsed = assertionBody.safeParse(req.body);
    if (!parsed.success) return ko(res, 400, WEBAUTHN_MESSAGES.failed);
    const body = parsed.data;
    const attempt = { ip, authType: 'passkey' as const, requestUri: body.targetURL ?? '', requestMethod: body.requestMethod ?? '' };
    // nobody is named yet: the address is regulated before any signature is checked
    const reservation = await deps.regulator.reserve({ ...attempt, username: '' });
    if (!reservation.admitted) {
      deps.audit.refused({ rhost: ip, user: '', method: 'passkey', reason: reservation.reason });
      return ko(res, 403, WEBAUTHN_MESSAGES.failed);
    }
    const checked = await deps.regulator.checkReserved(reservation, () => ceremoniesOf(deps).verifyAssertion(relyingParty(req, deps), ceremony, body.response, null));
    const username = checked.ok ? checked.credential.username : (checked.username ?? '');
    const refuse = async (reason: string) => {
      await deps.regulator.settle(reservation, { ...attempt, username, successful: false });
      deps.audit.failure({ rhost: ip, user: username, method: 'passkey', reason });
      ko(res, 403, WEBAUTHN_MESSAGES.failed);
    };
    if (!checked.ok) {
      if (checked.reason === 'counter_regression') deps.audit.account({ rhost: ip, user: username, what: 'webauthn clone warning', detail: checked.detail ?? '', failed: true });
      return refuse(refusalText(checked.reason, checked.detail));
    }
    // the user as the backend knows them now: a removed or disabled user's passkey signs nobody in
    const user = await deps.users.getDetails(username);
    if (!user) return refuse('passkey of an unknown or disabled user');
    // a ban on the account holds for its passkeys too
    if ((await deps.regulator.isBanned(username, ip)).banned) return refuse('user banned');
    await deps.regulator.settle(reservation, { ...attempt, username, successful: true });
    const twoFactors = checked.userVerified && deps.secondFactor.webauthn.experimental_enable_passkey_uv_two_factors;
    const amr: AuthenticationMethod[] = twoFactors ? ['hwk', 'mfa'] : ['hwk'];
    await establishSession(req, user, body.keepMeLoggedIn === true, deps.now(), deps.audit, ip, deps.storage.userSessions, { amr, method: 'passkey', secondFactor: twoFactors });
    answerTarget(req, res, deps, body, ip);
  };
}
