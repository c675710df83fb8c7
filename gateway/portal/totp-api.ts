/**
 * The TOTP part of the JSON API, in Authelia 4.39's paths and payloads (internal/handlers/
 * handler_register_totp.go, handler_sign_totp.go): the second factor itself, and registering,
 * showing and removing the user's authenticator app.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { otpauthUri, totpOptions } from '../secondfactor/totp.ts';
import { requestIp, type PortalDeps } from './deps.ts';
import { signedInUser } from './guards.ts';
import { redirectAfterLogin } from './login.ts';
import { ko, ok } from './api.ts';
import { checkSessionPassword } from './second-factor-password.ts';
import { lockoutMessage, lockoutSeconds } from './pages.ts';
import { checkSecondFactorCode, type CodeCheck } from './second-factor-check.ts';
import { cancelTotpRegistration, confirmTotpRegistration, removeTotp, startTotpRegistration } from './totp-registration.ts';

export const MFA_FAILED = 'Authentication failed, please retry later.';
const UNABLE_TO_REGISTER = 'Unable to set up one-time password.';
const NOTICE_NOT_SENT = 'The change is saved, but the e-mail notice could not be sent.';

const signBody = z.object({
  token: z.string().min(1).max(64),
  targetURL: z.string().max(4096).optional(),
  workflow: z.string().max(64).optional(),
  flow: z.string().max(64).optional(),
  flowID: z.string().max(256).optional(),
  subflow: z.string().max(64).optional(),
  userCode: z.string().max(256).optional(),
});
const registerBody = z.object({ algorithm: z.string().max(16), length: z.number().int(), period: z.number().int() });
const finishBody = z.object({ token: z.string().min(1).max(64) });

/** The answer to a checked code: a refusal (401, or 429 while locked out) or OK with where to go next. */
export function answerCodeCheck(deps: PortalDeps, req: Request, res: Response, outcome: CodeCheck, targetURL: string | undefined, extra: Record<string, unknown> = {}): void {
  if (!outcome.ok) {
    if (outcome.reason === 'locked_out') {
      const seconds = lockoutSeconds(outcome.until, deps.now());
      if (seconds !== undefined) res.set('Retry-After', String(seconds));
      return ko(res, 429, lockoutMessage(seconds));
    }
    return ko(res, 401, MFA_FAILED);
  }
  const next = redirectAfterLogin(req, targetURL, 'GET', deps.authorizer, requestIp(req, deps));
  const redirect = next && 'redirect' in next ? { redirect: next.redirect } : {};
  const data = { ...redirect, ...extra };
  return ok(res, Object.keys(data).length > 0 ? data : undefined);
}

const passwordBody = z.object({ password: z.string().min(1).max(1024), targetURL: z.string().max(4096).optional(), workflow: z.string().max(64).optional() });

/** POST /api/secondfactor/password: a passkey session's second factor by the account's password (Authelia 4.39). */
export function passwordSignHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const parsed = passwordBody.safeParse(req.body);
    if (!parsed.success) return ko(res, 400, MFA_FAILED);
    const outcome = await checkSessionPassword(deps, req, parsed.data.password, { uri: parsed.data.targetURL ?? '', method: 'GET' });
    if (!outcome.ok && outcome.busy) {
      res.set('Retry-After', String(outcome.busy.retryAfterSeconds));
      return ko(res, 429, outcome.busy.message);
    }
    answerCodeCheck(deps, req, res, outcome, parsed.data.targetURL);
  };
}

/** POST /api/secondfactor/totp: the second factor by TOTP code. */
export function totpSignHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const parsed = signBody.safeParse(req.body);
    if (!parsed.success) return ko(res, 400, MFA_FAILED);
    const user = signedInUser(req);
    const outcome = await checkSecondFactorCode(deps, req, user, 'totp', parsed.data.token, { uri: parsed.data.targetURL ?? '', method: 'GET' });
    answerCodeCheck(deps, req, res, outcome, parsed.data.targetURL);
  };
}

/** GET /api/secondfactor/totp: the user's TOTP configuration, without its secret. */
export function totpConfigurationHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const config = await deps.storage.totp.load(signedInUser(req).username);
    if (!config) return ko(res, 404, 'Could not find TOTP Configuration for user.');
    ok(res, {
      created_at: new Date(config.createdAt).toISOString(),
      ...(config.lastUsedAt !== null ? { last_used_at: new Date(config.lastUsedAt).toISOString() } : {}),
      issuer: config.issuer,
      algorithm: config.algorithm,
      digits: config.digits,
      period: config.period,
    });
  };
}

/** DELETE /api/secondfactor/totp */
export function totpDeleteHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const { removed, mailed } = await removeTotp(deps, req, signedInUser(req));
    if (!removed) return ko(res, 404, 'Could not find TOTP Configuration for user.');
    ok(res, mailed ? undefined : { notice: NOTICE_NOT_SENT });
  };
}

/** GET /api/secondfactor/totp/register: what a registration may choose. */
export function totpRegisterOptionsHandler(deps: PortalDeps) {
  return (_req: Request, res: Response) => ok(res, totpOptions(deps.secondFactor.totp));
}

/** PUT /api/secondfactor/totp/register: a new secret, kept in the session until confirmed. */
export function totpRegisterStartHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const parsed = registerBody.safeParse(req.body);
    if (!parsed.success) return ko(res, 400, UNABLE_TO_REGISTER);
    const pending = await startTotpRegistration(deps, req, parsed.data);
    if (!pending) return ko(res, 400, UNABLE_TO_REGISTER);
    ok(res, { base32_secret: pending.secret, otpauth_url: await otpauthUri(pending, signedInUser(req).username) });
  };
}

/** POST /api/secondfactor/totp/register: a code from the new app completes the registration. */
export function totpRegisterFinishHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const parsed = finishBody.safeParse(req.body);
    if (!parsed.success) return ko(res, 400, UNABLE_TO_REGISTER);
    const result = await confirmTotpRegistration(deps, req, signedInUser(req), parsed.data.token);
    if (!result.ok) return ko(res, 403, UNABLE_TO_REGISTER);
    ok(res, result.mailed ? undefined : { notice: NOTICE_NOT_SENT });
  };
}

/** DELETE /api/secondfactor/totp/register: abandons a registration in progress. */
export function totpRegisterCancelHandler() {
  return async (req: Request, res: Response) => {
    await cancelTotpRegistration(req);
    ok(res);
  };
}
