/**
 * Registering and removing a user's authenticator app, shared by the JSON API and the settings pages.
 * A started registration (the new secret) lives in the session until a code from it proves the app
 * has it; only then is it stored (encrypted, storage.totp). Adding or removing it is audited and the
 * user is mailed; a notice that could not be sent does not undo the change, and the caller says so.
 */
import type { Request } from 'express';
import { NotifierError } from '../notification/notifier.ts';
import type { UserDetails } from '../users/provider.ts';
import { chooseTotpParameters, matchingStep, newPendingTotp, secretBytes, type PendingTotp, type TotpChoice } from '../secondfactor/totp.ts';
import { sendAccountMail } from './account-mail.ts';
import { requestIp, type PortalDeps } from './deps.ts';
import { requestLanguage, translator } from './i18n.ts';
import { save } from './session-middleware.ts';

declare module 'express-session' {
  interface SessionData {
    /** An authenticator app being registered: its secret until a code confirms it (never stored before). */
    pendingTotp?: PendingTotp;
  }
}

export type RegistrationDeps = Pick<PortalDeps, 'storage' | 'secondFactor' | 'now' | 'audit' | 'notifier' | 'isTrustedProxy' | 'logger'>;

/** Starts (or restarts) a registration with the chosen parameters; null when they are not allowed. */
export async function startTotpRegistration(deps: RegistrationDeps, req: Request, choice?: TotpChoice): Promise<PendingTotp | null> {
  const parameters = chooseTotpParameters(deps.secondFactor.totp, choice);
  if (parameters === null) return null;
  const pending = await newPendingTotp(deps.secondFactor.totp, parameters, deps.now());
  req.session.pendingTotp = pending;
  await save(req);
  return pending;
}

/** The registration in progress, if it has not expired. */
export function pendingRegistration(req: Request, now: number): PendingTotp | null {
  const pending = req.session.pendingTotp;
  return pending && pending.expires > now ? pending : null;
}

export async function cancelTotpRegistration(req: Request): Promise<void> {
  delete req.session.pendingTotp;
  await save(req);
}

export type Confirmation = { ok: true; mailed: boolean } | { ok: false; reason: 'no_registration' | 'invalid' };

/**
 * Stores the pending key once `token` is a current code of it. The code's step is recorded as used,
 * so the code that confirmed the app cannot also be the second factor of a sign-in.
 */
export async function confirmTotpRegistration(deps: RegistrationDeps, req: Request, user: UserDetails, token: string): Promise<Confirmation> {
  const now = deps.now();
  const pending = pendingRegistration(req, now);
  const rhost = requestIp(req, deps);
  if (!pending) return { ok: false, reason: 'no_registration' };
  const config = { username: user.username, issuer: pending.issuer, algorithm: pending.algorithm, digits: pending.digits, period: pending.period, secret: await secretBytes(pending.secret) };
  const step = await matchingStep(config, token.trim(), now, deps.secondFactor.totp.skew);
  if (step === null) {
    deps.audit.account({ rhost, user: user.username, what: 'authenticator app not added', detail: 'the confirmation code was wrong', failed: true });
    return { ok: false, reason: 'invalid' };
  }
  await deps.storage.exclusively([`totp:${user.username}`], async (tx) => {
    await tx.totp.save({ ...config, createdAt: now });
    await tx.totp.markStepUsed(user.username, step, now);
  });
  delete req.session.pendingTotp;
  await save(req);
  deps.audit.account({ rhost, user: user.username, what: 'authenticator app added', detail: `${pending.algorithm}, ${pending.digits} digits, ${pending.period}s` });
  return { ok: true, mailed: await notifyDevice(deps, req, user, 'device_added') };
}

/** Removes the user's authenticator app; `removed` false when there was none. */
export async function removeTotp(deps: RegistrationDeps, req: Request, user: UserDetails): Promise<{ removed: boolean; mailed: boolean }> {
  const removed = await deps.storage.totp.delete(user.username);
  if (!removed) return { removed, mailed: false };
  deps.audit.account({ rhost: requestIp(req, deps), user: user.username, what: 'authenticator app removed' });
  return { removed, mailed: await notifyDevice(deps, req, user, 'device_removed') };
}

/** Mails the user that their authenticator app was added or removed; false when that could not be sent (already audited). */
async function notifyDevice(deps: RegistrationDeps, req: Request, user: UserDetails, kind: 'device_added' | 'device_removed'): Promise<boolean> {
  const device = translator(requestLanguage(req))('totp_device_name');
  try {
    await sendAccountMail(deps, req, user, { kind, values: { device } });
    return true;
  } catch (error) {
    if (!(error instanceof NotifierError)) throw error;
    deps.logger.warn({ user: user.username, kind }, `second factor: the ${kind} notice was not sent`);
    return false;
  }
}
