/**
 * Elevation: before a sensitive change to their own account (a second factor added or removed, new
 * recovery codes, a new password or e-mail) a signed-in person proves again that they are who the
 * session says, with a one-time code e-mailed to them (`identity_validation.elevated_session`). The
 * code is single use, expires after `code_lifespan`, and is bound to the session that asked for it: its
 * intent names the hash of that session's id, and only that session knows the code's public id.
 */
import { elevatedAt, hasSecondFactor } from './guards.ts';
import { randomInt } from 'node:crypto';
import type { Request } from 'express';
import { authenticationLevel } from '../session/user-session.ts';
import { sessionHash } from '../storage/user-sessions.ts';
import type { UserDetails } from '../users/provider.ts';
import { sendAccountMail } from './account-mail.ts';
import { requestIp, type PortalDeps } from './deps.ts';
import { elevateSession } from './second-factor-session.ts';
import { save } from './session-middleware.ts';
import { retryMinutes, selfServiceLimits } from './self-service-limits.ts';

declare module 'express-session' {
  interface SessionData {
    /** The public id of the last elevation code mailed for this session (the code itself is never kept here). */
    elevationCodeId?: string;
  }
}

/** Upper-case letters and digits a person cannot misread (no I, O, 0, 1), as Authelia's unambiguous set. */
export const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const INTENT = 'user_session_elevation';
/** Authelia refuses a code longer than this before looking it up. */
const MAX_CODE_LENGTH = 20;

export type ElevationDeps = Pick<PortalDeps, 'storage' | 'notifier' | 'audit' | 'isTrustedProxy' | 'now' | 'secondFactor' | 'logger'>;

/** A failed step, as a translation key of the portal catalogue and the HTTP status that goes with it. */
export interface SelfServiceRefusal {
  status: number;
  key: string;
  values?: Record<string, string | number>;
  retryAfterSeconds?: number;
}

export function newOneTimeCode(length: number): string {
  let code = '';
  for (let i = 0; i < length; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return code;
}

/** A code as typed: spaces and dashes dropped, upper case. */
export function normaliseCode(typed: string): string {
  return typed.replace(/[\s-]+/g, '').toUpperCase();
}

/** The code's intent binds it to this session: another session (or this one after a new id) cannot use it. */
const intentFor = (req: Request) => `${INTENT}:${sessionHash(req.sessionID)}`;

/**
 * What the session must do to be elevated: `second-factor` when `require_second_factor` is set, the
 * user has a second factor and this session has not proven one; a mailed `code` otherwise.
 */
export async function elevationStep(deps: ElevationDeps, req: Request, user: UserDetails): Promise<'second-factor' | 'code'> {
  const settings = deps.secondFactor.identityValidation.elevated_session;
  if (!settings.require_second_factor || authenticationLevel(req.session.amr) >= 2) return 'code';
  return (await hasSecondFactor(deps, user.username)) ? 'second-factor' : 'code';
}

/** Whether the session is elevated now (a code, a recent second factor, or skip_second_factor at level 2). */
export function isElevated(deps: Pick<PortalDeps, 'now' | 'secondFactor'>, req: Request): boolean {
  const settings = deps.secondFactor.identityValidation.elevated_session;
  const s = req.session;
  return elevatedAt(
    { level: authenticationLevel(s.amr), elevatedUntil: s.elevatedUntil, secondFactorAt: s.secondFactorAt, elevationLifespanMs: settings.elevation_lifespan * 1000, skipSecondFactor: settings.skip_second_factor },
    deps.now(),
  );
}

/** Where a mailed code can be revoked (a page with a button: a mail scanner following links revokes nothing). */
function revokeLink(req: Request, publicId: string): string {
  return `${req.cookieDomain!.portalUrl.origin}${req.baseUrl}/elevate/revoke?id=${encodeURIComponent(publicId)}`;
}

/**
 * Mails a new code for this session and returns its public id (the id a revocation names). Rejects with
 * the NotifierError of sendAccountMail when the mail could not be sent; the code is then revoked.
 */
export async function sendElevationCode(deps: ElevationDeps, req: Request, user: UserDetails): Promise<{ publicId: string } | SelfServiceRefusal> {
  const ip = requestIp(req, deps);
  const limiter = selfServiceLimits(deps).codeSend;
  const limited = limiter.check({ ip, user: user.username });
  if (limited.limited) {
    deps.audit.account({ rhost: ip, user: user.username, what: 'one-time code refused', detail: 'too many codes asked for', failed: true });
    return { status: 429, key: 'elevate_too_many_sent', values: { minutes: retryMinutes(limited.retryAfterSeconds) }, retryAfterSeconds: limited.retryAfterSeconds };
  }
  limiter.fail({ ip, user: user.username });
  const settings = deps.secondFactor.identityValidation.elevated_session;
  const now = deps.now();
  const code = newOneTimeCode(settings.characters);
  const publicId = await deps.storage.oneTimeCodes.create({ username: user.username, intent: intentFor(req), code, issuedAt: now, issuedIp: ip, expiresAt: now + settings.code_lifespan * 1000 });
  try {
    await sendAccountMail(deps, req, user, { kind: 'one_time_code', code, link: revokeLink(req, publicId) });
  } catch (error) {
    // a code nobody received must not stay usable
    await deps.storage.oneTimeCodes.revoke(publicId, now, ip).catch(() => false);
    throw error;
  }
  req.session.elevationCodeId = publicId;
  await save(req);
  deps.audit.account({ rhost: ip, user: user.username, what: 'one-time code sent', detail: `elevation, expires in ${settings.code_lifespan}s` });
  return { publicId };
}

/** Why a code that did not work did not, in words for the person who typed it. */
async function whyRefused(deps: ElevationDeps, publicId: string, now: number): Promise<{ key: string; reason: string }> {
  const stored = await deps.storage.oneTimeCodes.find(publicId);
  if (stored?.revokedAt != null) return { key: 'elevate_code_revoked', reason: 'code revoked' };
  if (stored?.consumedAt != null) return { key: 'elevate_code_used', reason: 'code already used' };
  if (stored && stored.expiresAt <= now) return { key: 'elevate_code_expired', reason: 'code expired' };
  return { key: 'elevate_code_wrong', reason: 'wrong code' };
}

/**
 * Elevates the session if `typed` is the code last mailed for it. Counted before it is checked (wrong
 * codes are limited per user and per address) and audited as an authentication success or failure.
 */
export async function useElevationCode(deps: ElevationDeps, req: Request, user: UserDetails, typed: string): Promise<{ ok: true; until: number } | SelfServiceRefusal> {
  const ip = requestIp(req, deps);
  const code = normaliseCode(typed);
  if (code.length === 0 || code.length > MAX_CODE_LENGTH) return { status: 400, key: 'elevate_code_malformed', values: { length: deps.secondFactor.identityValidation.elevated_session.characters } };
  // checked when the code is used too: one mailed before the user added a second factor must not stand in for it
  if ((await elevationStep(deps, req, user)) === 'second-factor') return { status: 403, key: 'elevate_use_second_factor' };
  const attempt = selfServiceLimits(deps).codeCheck.reserve({ ip, user: user.username });
  if (attempt.limited) {
    deps.audit.refused({ rhost: ip, user: user.username, method: 'one_time_code', reason: 'too many wrong codes' });
    return { status: 429, key: 'elevate_too_many_wrong', values: { minutes: retryMinutes(attempt.retryAfterSeconds) }, retryAfterSeconds: attempt.retryAfterSeconds };
  }
  const publicId = req.session.elevationCodeId;
  const now = deps.now();
  if (!publicId) {
    deps.audit.failure({ rhost: ip, user: user.username, method: 'one_time_code', reason: 'no code was sent to this session' });
    return { status: 403, key: 'elevate_code_not_sent' };
  }
  const used = await deps.storage.oneTimeCodes.consume({ publicId, username: user.username, intent: intentFor(req), code, nowMs: now, ip });
  if (!used) {
    const why = await whyRefused(deps, publicId, now);
    deps.audit.failure({ rhost: ip, user: user.username, method: 'one_time_code', reason: why.reason });
    return { status: 403, key: why.key };
  }
  attempt.release();
  const until = now + deps.secondFactor.identityValidation.elevated_session.elevation_lifespan * 1000;
  delete req.session.elevationCodeId;
  await elevateSession(req, until);
  deps.audit.success({ rhost: ip, user: user.username, method: 'one_time_code' });
  deps.audit.account({ rhost: ip, user: user.username, what: 'session elevated', detail: 'one-time code' });
  return { ok: true, until };
}

/** Revokes a mailed code by its public id (the link in the mail); wrong ids are limited per address. */
export async function revokeElevationCode(deps: ElevationDeps, req: Request, publicId: string): Promise<boolean | SelfServiceRefusal> {
  const ip = requestIp(req, deps);
  const limiter = selfServiceLimits(deps).tokenChecks;
  const limited = limiter.check({ ip });
  if (limited.limited) return { status: 429, key: 'self_service_too_many_links', values: { minutes: retryMinutes(limited.retryAfterSeconds) }, retryAfterSeconds: limited.retryAfterSeconds };
  const valid = /^[0-9a-f-]{36}$/i.test(publicId);
  const stored = valid ? await deps.storage.oneTimeCodes.find(publicId) : undefined;
  const revoked = stored !== undefined && (await deps.storage.oneTimeCodes.revoke(publicId, deps.now(), ip));
  if (!revoked) {
    limiter.fail({ ip });
    return false;
  }
  deps.audit.account({ rhost: ip, user: stored.username, what: 'one-time code revoked', detail: 'from the e-mail' });
  return true;
}
