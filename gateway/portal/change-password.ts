/**
 * Changing one's own password (behind ELEVATED): the old password is checked by the first factor (so
 * it is regulated and audited like a sign-in), the new one by the one password policy. The session that
 * changed it lives on with the new credential stamp; every other session of the user ends.
 */
import type { Request, Response } from 'express';
import { DEFAULT_PASSWORD_POLICY } from '../../lib/password-policy.ts';
import { requestIp, type PortalDeps } from './deps.ts';
import type { SelfServiceRefusal } from './elevation.ts';
import { signedInUser } from './guards.ts';
import { newPasswordProblem, setNewPassword } from './password-reset.ts';
import { lockoutMessage, portalBase, render } from './pages.ts';
import { bodyField, jsonKo, jsonOk, jsonRefusal, tOf } from './self-service-answers.ts';
import { save } from './session-middleware.ts';

const field = bodyField;

type Changed = { ok: true; notice: string | null } | (SelfServiceRefusal & { message?: string });

/** authentication_backend.password_change.disable: refused before anything is checked. */
const CHANGE_DISABLED = { status: 403, key: 'password_change_disabled' } as const;

async function changePassword(deps: PortalDeps, req: Request, oldPassword: string, newPassword: string): Promise<Changed> {
  if (deps.secondFactor.passwordChangeDisabled) return CHANGE_DISABLED;
  const user = signedInUser(req);
  const weak = newPasswordProblem(deps, newPassword, user.username);
  if (weak !== null) return { status: 400, key: '', message: `${weak}.` };
  if (!oldPassword) return { status: 401, key: 'password_change_wrong_old' };
  const ip = requestIp(req, deps);
  const result = await deps.firstFactor.verify({ username: user.username, password: oldPassword, ip, method: 'portal', requestUri: '', requestMethod: '', deferSuccessAudit: true });
  if (!result.ok && result.busy) return { status: 429, key: '', message: result.busy.message, retryAfterSeconds: result.busy.retryAfterSeconds };
  if (!result.ok && result.lockedOut) {
    const seconds = result.lockedOut.until === undefined ? undefined : Math.max(1, Math.ceil((result.lockedOut.until - deps.now()) / 1000));
    return { status: 429, key: '', message: lockoutMessage(seconds), ...(seconds === undefined ? {} : { retryAfterSeconds: seconds }) };
  }
  // the password must be this session's user's (a login resolving to another account is not)
  if (!result.ok || result.user.username !== user.username) return { status: 401, key: 'password_change_wrong_old' };
  const set = await setNewPassword(deps, req, user.username, newPassword, 'change', req.sessionID);
  // this session goes on under the new credential; every older one ended with the old stamp
  req.session.credentialStamp = set.user.credentialStamp;
  await save(req);
  return { ok: true, notice: set.mailProblem };
}

/** `POST /api/change-password` (Authelia 4.39: `{username?, old_password, new_password}`). */
export function changePasswordHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const changed = await changePassword(deps, req, field(req.body, 'old_password'), field(req.body, 'new_password'));
    if ('ok' in changed) return jsonOk(res, changed.notice ? { notice: tOf(req)(changed.notice) } : undefined);
    if (changed.message !== undefined) {
      if (changed.retryAfterSeconds !== undefined) res.set('Retry-After', String(changed.retryAfterSeconds));
      return jsonKo(res, changed.status, changed.message);
    }
    jsonRefusal(req, res, changed);
  };
}

function formView(deps: PortalDeps, error = '', done = '') {
  const policy = deps.passwordPolicy ?? DEFAULT_PASSWORD_POLICY;
  return { error, done, passwordRule: policy.summary, passwordMinLength: policy.minLength };
}

export function changePasswordPage(deps: PortalDeps) {
  return (req: Request, res: Response) => {
    if (deps.secondFactor.passwordChangeDisabled) return disabledPage(deps, req, res);
    render(res, deps, 'settings-password', formView(deps));
  };
}

function disabledPage(deps: PortalDeps, req: Request, res: Response) {
  const t = tOf(req);
  render(res, deps, 'message', { title: t('password_change_title'), message: t(CHANGE_DISABLED.key), link: { href: `${portalBase(req)}settings`, text: t('password_change_back') } }, CHANGE_DISABLED.status);
}

export function changePasswordForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    if (deps.secondFactor.passwordChangeDisabled) return disabledPage(deps, req, res);
    const t = tOf(req);
    const newPassword = field(req.body, 'new_password');
    if (newPassword !== field(req.body, 'confirm')) return render(res, deps, 'settings-password', formView(deps, t('password_change_mismatch')), 400);
    const changed = await changePassword(deps, req, field(req.body, 'old_password'), newPassword);
    if ('ok' in changed) {
      const message = changed.notice ? `${t('password_change_done')} ${t(changed.notice)}` : t('password_change_done');
      return render(res, deps, 'message', { title: t('password_change_title'), message, link: { href: `${portalBase(req)}settings`, text: t('password_change_back') } });
    }
    if (changed.retryAfterSeconds !== undefined) res.set('Retry-After', String(changed.retryAfterSeconds));
    render(res, deps, 'settings-password', formView(deps, changed.message ?? t(changed.key, changed.values)), changed.status);
  };
}

/** `GET /api/configuration/password-policy` (Authelia 4.39): what a new password must be, for a client's form. */
export function passwordPolicyHandler(deps: PortalDeps) {
  const description = (deps.passwordPolicy ?? DEFAULT_PASSWORD_POLICY).description;
  return (_req: Request, res: Response) => jsonOk(res, description ?? { mode: 'disabled', min_length: 0, max_length: 0, min_score: 0, require_uppercase: false, require_lowercase: false, require_number: false, require_special: false });
}
