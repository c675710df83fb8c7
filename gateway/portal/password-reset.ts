/**
 * Password reset by e-mail. The link carries an opaque random token (256 bits); the database keeps only
 * its SHA-256 (`identity_verification.jti`), so a copy of the database resets nobody's password. A token
 * works once (one conditional UPDATE), for `identity_validation.reset_password.jwt_lifespan`, and is
 * revocable from the mail. Starting a reset answers the same whether or not the account exists: the
 * lookup and the mail happen after the answer is sent, and are audited (a mail that failed too).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Request } from 'express';
import { DEFAULT_PASSWORD_POLICY } from '../../lib/password-policy.ts';
import { sessionHash } from '../storage/user-sessions.ts';
import type { UserDetails } from '../users/provider.ts';
import { canMail, sendAccountMail } from './account-mail.ts';
import { requestIp, type PortalDeps } from './deps.ts';
import type { SelfServiceRefusal } from './elevation.ts';
import { retryMinutes, selfServiceLimits } from './self-service-limits.ts';

export const RESET_ACTION = 'reset_password';

export type ResetDeps = Pick<PortalDeps, 'storage' | 'notifier' | 'audit' | 'isTrustedProxy' | 'now' | 'secondFactor' | 'logger' | 'users' | 'passwordPolicy' | 'credentialChanged'>;

const tokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** Why reset cannot be used here at all (turned off, done elsewhere, or no way to mail), or null. */
export function resetUnavailable(deps: Pick<PortalDeps, 'secondFactor' | 'notifier'>): SelfServiceRefusal | null {
  if (deps.secondFactor.passwordResetDisabled || deps.secondFactor.passwordResetCustomUrl !== null) return { status: 404, key: 'reset_disabled' };
  if (!deps.notifier) return { status: 404, key: 'reset_no_notifier' };
  return null;
}

export function offersPasswordReset(deps: Pick<PortalDeps, 'secondFactor' | 'notifier'>): boolean {
  return resetUnavailable(deps) === null;
}

const links = (req: Request, token: string) => {
  const base = `${req.cookieDomain!.portalUrl.origin}${req.baseUrl}/reset-password`;
  return { finish: `${base}/finish?token=${token}`, revoke: `${base}/revoke?token=${token}` };
};

/**
 * Counts a reset request and, unless it is limited, starts the lookup and the mail without waiting for
 * them; the answer the caller gives is the same either way. Returns a refusal only when limited (per
 * name and per address, whether or not the name exists, so the limit says nothing either).
 */
export function startPasswordReset(deps: ResetDeps, req: Request, login: string): SelfServiceRefusal | null {
  const ip = requestIp(req, deps);
  const limiter = selfServiceLimits(deps).resetStart;
  const limited = limiter.check({ ip, user: login });
  if (limited.limited) {
    deps.audit.account({ rhost: ip, user: login, what: 'password reset refused', detail: `too many requests (by ${limited.by})`, failed: true });
    return { status: 429, key: 'reset_too_many', values: { minutes: retryMinutes(limited.retryAfterSeconds) }, retryAfterSeconds: limited.retryAfterSeconds };
  }
  limiter.fail({ ip, user: login });
  void mailResetLink(deps, req, login, ip).catch((error: unknown) => {
    // sendAccountMail wrote the audit line; the operator also gets the reason here
    deps.logger.error({ err: error, user: login }, 'password reset: the link could not be mailed');
  });
  return null;
}

async function mailResetLink(deps: ResetDeps, req: Request, login: string, ip: string): Promise<void> {
  const username = await deps.users.resolveLogin(login);
  const user = username === null ? null : await deps.users.getDetails(username);
  if (!user) {
    deps.audit.account({ rhost: ip, user: login, what: 'password reset requested', detail: 'no such enabled user: nothing sent' });
    return;
  }
  if (!canMail(deps, user)) {
    deps.audit.account({ rhost: ip, user: user.username, what: 'password reset requested', detail: 'the user has no e-mail address: nothing sent', failed: true });
    return;
  }
  // the visible limit counts the name typed; this one counts the account, whichever name asked
  const perAccount = selfServiceLimits(deps).resetMail;
  // keyed by the account alone: its address table gets the account too, never a shared key
  const account = { ip: `account:${user.username}`, user: user.username };
  if (perAccount.check(account).limited) {
    deps.audit.account({ rhost: ip, user: user.username, what: 'password reset requested', detail: 'too many reset mails for this account: nothing sent', failed: true });
    return;
  }
  perAccount.fail(account);
  const token = randomBytes(32).toString('base64url');
  const now = deps.now();
  const jti = tokenHash(token);
  await deps.storage.identityVerification.create({ jti, username: user.username, action: RESET_ACTION, issuedAt: now, issuedIp: ip, expiresAt: now + deps.secondFactor.identityValidation.reset_password.jwt_lifespan * 1000 });
  deps.audit.account({ rhost: ip, user: user.username, what: 'password reset requested', detail: 'link issued' });
  const link = links(req, token);
  try {
    await sendAccountMail(deps, req, user, { kind: 'reset_password', link: link.finish, values: { revoke: link.revoke }, extraLines: ['reset_password_revoke'] });
  } catch (error) {
    // a link nobody received must not stay usable
    await deps.storage.identityVerification.revoke(jti, deps.now(), ip).catch(() => false);
    throw error;
  }
}

export type TokenCheck = { ok: true; username: string } | SelfServiceRefusal;

/** Counts a bad token per address; refuses once an address sent too many. */
function tokenLimit(deps: ResetDeps, ip: string): SelfServiceRefusal | null {
  const limited = selfServiceLimits(deps).tokenChecks.check({ ip });
  return limited.limited ? { status: 429, key: 'self_service_too_many_links', values: { minutes: retryMinutes(limited.retryAfterSeconds) }, retryAfterSeconds: limited.retryAfterSeconds } : null;
}

function badToken(deps: ResetDeps, ip: string, reason: string, user = ''): SelfServiceRefusal {
  selfServiceLimits(deps).tokenChecks.fail({ ip });
  deps.audit.account({ rhost: ip, user, what: 'password reset link refused', detail: reason, failed: true });
  return { status: 403, key: 'reset_link_invalid' };
}

/** Whether `token` is a reset link still usable now, without using it (the page that asks for the new password). */
export async function checkResetToken(deps: ResetDeps, req: Request, token: string): Promise<TokenCheck> {
  const ip = requestIp(req, deps);
  const limited = tokenLimit(deps, ip);
  if (limited) return limited;
  if (!TOKEN_SHAPE.test(token)) return badToken(deps, ip, 'malformed');
  const stored = await deps.storage.identityVerification.find(tokenHash(token));
  if (!stored || stored.action !== RESET_ACTION) return badToken(deps, ip, 'unknown link');
  if (stored.revokedAt !== null) return badToken(deps, ip, 'revoked', stored.username);
  if (stored.consumedAt !== null) return badToken(deps, ip, 'already used', stored.username);
  if (stored.expiresAt <= deps.now()) return badToken(deps, ip, 'expired', stored.username);
  return { ok: true, username: stored.username };
}

/** Uses `token` (once, whatever the concurrency): its username, or a refusal. */
export async function consumeResetToken(deps: ResetDeps, req: Request, token: string): Promise<TokenCheck> {
  const checked = await checkResetToken(deps, req, token);
  if (!('ok' in checked)) return checked;
  const ip = requestIp(req, deps);
  const used = await deps.storage.identityVerification.consume(tokenHash(token), deps.now(), ip);
  if (!used || used.action !== RESET_ACTION) return badToken(deps, ip, 'already used', checked.username);
  deps.audit.account({ rhost: ip, user: used.username, what: 'password reset link used' });
  return { ok: true, username: used.username };
}

/** Revokes a reset link (the second link of the mail). */
export async function revokeResetToken(deps: ResetDeps, req: Request, token: string): Promise<true | SelfServiceRefusal> {
  const checked = await checkResetToken(deps, req, token);
  if (!('ok' in checked)) return checked;
  const ip = requestIp(req, deps);
  if (!(await deps.storage.identityVerification.revoke(tokenHash(token), deps.now(), ip))) return badToken(deps, ip, 'already used', checked.username);
  deps.audit.account({ rhost: ip, user: checked.username, what: 'password reset link revoked', detail: 'from the e-mail' });
  return true;
}

/** Why `password` cannot be the new password of `username` (the one password policy), or null. */
export function newPasswordProblem(deps: Pick<PortalDeps, 'passwordPolicy'>, password: string, username: string): string | null {
  return (deps.passwordPolicy ?? DEFAULT_PASSWORD_POLICY).problem(password, username);
}

export interface PasswordSet {
  user: UserDetails;
  /** The "password changed" mail could not be sent: the catalogue key saying so (the change stands). */
  mailProblem: string | null;
}

/**
 * Sets the new password (the users file is rewritten atomically; the new credential stamp ends every
 * older session), revokes the user's reset links still unused, forgets the user's other sessions in the index, keeps `keepSessionId` if given (its
 * caller re-stamps it) and mails "your password was changed".
 */
export async function setNewPassword(deps: ResetDeps, req: Request, username: string, password: string, how: 'reset' | 'change', keepSessionId?: string): Promise<PasswordSet> {
  const ip = requestIp(req, deps);
  await deps.users.updatePassword(username, password);
  deps.audit.account({ rhost: ip, user: username, what: 'password changed', detail: how === 'reset' ? 'by reset link' : 'by the user' });
  // a second link still in the mailbox must not set the password again over this one
  const revoked = await deps.storage.identityVerification.revokeAllForUser(username, RESET_ACTION, deps.now(), ip).catch((error: unknown) => {
    deps.logger.error({ err: error, user: username }, 'password changed: older reset links could not be revoked (they expire on their own)');
    return 0;
  });
  if (revoked > 0) deps.audit.account({ rhost: ip, user: username, what: 'password reset link revoked', detail: `${revoked} after the password change` });
  const ended = await deps.storage.userSessions.removeAllForUser(username, keepSessionId === undefined ? undefined : sessionHash(keepSessionId)).catch((error: unknown) => {
    deps.logger.warn({ err: error, user: username }, 'password changed: the session index could not be updated (the sessions end anyway: their credential changed)');
    return [];
  });
  if (ended.length > 0) deps.audit.account({ rhost: ip, user: username, what: 'sessions ended', detail: `${ended.length} after the password change` });
  await deps.credentialChanged?.(username, how === 'change' ? req.session?.oidcLinkKey : undefined);
  const user = await deps.users.getDetails(username);
  if (!user) return { user: { username, displayName: username, emails: [], groups: [], credentialStamp: '' }, mailProblem: null };
  if (!canMail(deps, user)) return { user, mailProblem: null };
  try {
    await sendAccountMail(deps, req, user, { kind: 'password_changed' });
    return { user, mailProblem: null };
  } catch (error) {
    deps.logger.error({ err: error, user: username }, 'password changed: the notice could not be mailed');
    return { user, mailProblem: 'password_change_changed_mail_failed' };
  }
}
