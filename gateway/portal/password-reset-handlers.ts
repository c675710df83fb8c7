/**
 * Password reset endpoints: Authelia 4.39's JSON API (start, finish, set, revoke) and the portal's pages,
 * which work without JavaScript. A link is only ever used or revoked by a POST: mail scanners open links.
 */
import type { Request, Response } from 'express';
import type { PortalDeps } from './deps.ts';
import type { SelfServiceRefusal } from './elevation.ts';
import { consumeResetToken, checkResetToken, newPasswordProblem, resetUnavailable, revokeResetToken, setNewPassword, startPasswordReset } from './password-reset.ts';
import { portalBase, render } from './pages.ts';
import { bodyField, jsonKo, jsonOk, jsonRefusal, tOf } from './self-service-answers.ts';
import { save } from './session-middleware.ts';
import { DEFAULT_PASSWORD_POLICY } from '../../lib/password-policy.ts';

declare module 'express-session' {
  interface SessionData {
    /**
     * Set by a used reset link (JSON flow): whose password this browser may set, until when, and the
     * user's credential stamp then (a password changed meanwhile, another way, ends the grant).
     */
    passwordReset?: { username: string; until: number; stamp: string };
  }
}

const field = bodyField;

const policyOf = (deps: PortalDeps) => deps.passwordPolicy ?? DEFAULT_PASSWORD_POLICY;

// ---- JSON API (Authelia 4.39) ----

export function resetStartHandler(deps: PortalDeps) {
  return (req: Request, res: Response) => {
    const off = resetUnavailable(deps);
    if (off) return jsonRefusal(req, res, off);
    const username = field(req.body, 'username').trim();
    if (!username || username.length > 256) return jsonKo(res, 400, tOf(req)('reset_username_required'));
    const limited = startPasswordReset(deps, req, username);
    if (limited) return jsonRefusal(req, res, limited);
    // the same answer whether or not the account exists, sent before the lookup
    jsonOk(res);
  };
}

export function resetFinishHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const off = resetUnavailable(deps);
    if (off) return jsonRefusal(req, res, off);
    const used = await consumeResetToken(deps, req, field(req.body, 'token'));
    if (!('ok' in used)) return jsonRefusal(req, res, used);
    const stamp = (await deps.users.getDetails(used.username))?.credentialStamp ?? '';
    req.session.passwordReset = { username: used.username, until: deps.now() + deps.secondFactor.identityValidation.reset_password.jwt_lifespan * 1000, stamp };
    await save(req);
    jsonOk(res);
  };
}

export function resetPasswordHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const off = resetUnavailable(deps);
    if (off) return jsonRefusal(req, res, off);
    const grant = req.session.passwordReset;
    if (!grant || grant.until <= deps.now()) return jsonKo(res, 403, tOf(req)('reset_not_started'));
    const current = await deps.users.getDetails(grant.username);
    if (!current || grant.stamp !== current.credentialStamp) {
      // the password changed since the link was used (or the account went): this grant is spent
      delete req.session.passwordReset;
      await save(req);
      return jsonKo(res, 403, tOf(req)('reset_not_started'));
    }
    const password = field(req.body, 'password');
    const weak = newPasswordProblem(deps, password, grant.username);
    if (weak !== null) return jsonKo(res, 400, `${weak}.`);
    delete req.session.passwordReset;
    await save(req);
    const set = await setNewPassword(deps, req, grant.username, password, 'reset');
    jsonOk(res, set.mailProblem ? { notice: tOf(req)(set.mailProblem) } : undefined);
  };
}

export function resetRevokeHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const revoked = await revokeResetToken(deps, req, field(req.body, 'token'));
    if (revoked !== true) return jsonRefusal(req, res, revoked);
    jsonOk(res);
  };
}

// ---- pages ----

function refusalPage(deps: PortalDeps, req: Request, res: Response, refusal: SelfServiceRefusal, title = 'reset_title'): void {
  const t = tOf(req);
  if (refusal.retryAfterSeconds !== undefined) res.set('Retry-After', String(refusal.retryAfterSeconds));
  const again = refusal.key === 'reset_link_invalid' ? { link: { href: `${portalBase(req)}reset-password`, text: t('reset_ask_again') } } : { link: { href: portalBase(req), text: t('reset_back_to_sign_in') } };
  render(res, deps, 'message', { title: t(title), message: t(refusal.key, refusal.values), alert: true, ...again }, refusal.status);
}

export function resetStartPage(deps: PortalDeps) {
  return (req: Request, res: Response) => {
    // password_reset.custom_url: resetting is done there, so the page a user may have bookmarked leads there
    const elsewhere = deps.secondFactor.passwordResetCustomUrl;
    if (elsewhere !== null) return res.redirect(302, elsewhere);
    const off = resetUnavailable(deps);
    if (off) return refusalPage(deps, req, res, off);
    render(res, deps, 'reset-password', { username: '', error: '' });
  };
}

export function resetStartForm(deps: PortalDeps) {
  return (req: Request, res: Response) => {
    const off = resetUnavailable(deps);
    if (off) return refusalPage(deps, req, res, off);
    const username = field(req.body, 'username').trim();
    const t = tOf(req);
    if (!username || username.length > 256) return render(res, deps, 'reset-password', { username, error: t('reset_username_required') }, 400);
    const limited = startPasswordReset(deps, req, username);
    if (limited) return refusalPage(deps, req, res, limited);
    render(res, deps, 'message', { title: t('reset_title'), message: t('reset_sent'), link: { href: portalBase(req), text: t('reset_back_to_sign_in') } });
  };
}

function finishView(deps: PortalDeps, token: string, error = '') {
  const policy = policyOf(deps);
  return { token, error, passwordRule: policy.summary, passwordMinLength: policy.minLength };
}

export function resetFinishPage(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const off = resetUnavailable(deps);
    if (off) return refusalPage(deps, req, res, off);
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    const checked = await checkResetToken(deps, req, token);
    if (!('ok' in checked)) return refusalPage(deps, req, res, checked);
    render(res, deps, 'reset-password-finish', finishView(deps, token));
  };
}

export function resetFinishForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const off = resetUnavailable(deps);
    if (off) return refusalPage(deps, req, res, off);
    const token = field(req.body, 'token');
    const password = field(req.body, 'password');
    const t = tOf(req);
    const checked = await checkResetToken(deps, req, token);
    if (!('ok' in checked)) return refusalPage(deps, req, res, checked);
    // the policy and the repeat are checked before the link is used: a weak password does not spend it
    const weak = newPasswordProblem(deps, password, checked.username);
    if (weak !== null) return render(res, deps, 'reset-password-finish', finishView(deps, token, `${weak}.`), 400);
    if (password !== field(req.body, 'confirm')) return render(res, deps, 'reset-password-finish', finishView(deps, token, t('password_change_mismatch')), 400);
    const used = await consumeResetToken(deps, req, token);
    if (!('ok' in used)) return refusalPage(deps, req, res, used);
    const set = await setNewPassword(deps, req, used.username, password, 'reset');
    const message = set.mailProblem ? `${t('reset_done')} ${t(set.mailProblem)}` : t('reset_done');
    render(res, deps, 'message', { title: t('reset_title'), message, link: { href: portalBase(req), text: t('reset_sign_in') } });
  };
}

export function resetRevokePage(deps: PortalDeps) {
  return (req: Request, res: Response) => {
    const t = tOf(req);
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    render(res, deps, 'confirm', { title: t('reset_revoke_title'), message: t('reset_revoke_text'), action: 'reset-password/revoke', name: 'token', value: token, button: t('reset_revoke_button') });
  };
}

export function resetRevokeForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const t = tOf(req);
    const revoked = await revokeResetToken(deps, req, field(req.body, 'token'));
    if (revoked !== true) return refusalPage(deps, req, res, revoked, 'reset_revoke_title');
    render(res, deps, 'message', { title: t('reset_revoke_title'), message: t('reset_revoke_done'), link: { href: portalBase(req), text: t('reset_back_to_sign_in') } });
  };
}
