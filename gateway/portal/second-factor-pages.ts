/**
 * The second-factor pages, server-rendered and working without JavaScript: the step a one-factor
 * session is sent to (`/2fa`: method chooser, TOTP code, recovery code, and WebAuthn when enabled),
 * registering or removing an authenticator app (`/settings/totp`) and making recovery codes.
 */
import type { Request, Response } from 'express';
import { isSafeRedirect } from '../authz/redirect.ts';
import { authenticationLevel } from '../session/user-session.ts';
import { RECOVERY_CODES_LOW } from '../secondfactor/recovery-codes.ts';
import { otpauthUri, qrCodeSvg, totpOptions } from '../secondfactor/totp.ts';
import { requestIp, type PortalDeps } from './deps.ts';
import { signedInUser } from './guards.ts';
import { requestLanguage, translator } from './i18n.ts';
import { redirectAfterLogin } from './login.ts';
import { field, lockoutSeconds, portalBase, render } from './pages.ts';
import { regenerateRecoveryCodes } from './recovery-codes-api.ts';
import { checkSecondFactorCode, type CodeKind } from './second-factor-check.ts';
import { checkSessionPassword, needsPasswordStep } from './second-factor-password.ts';
import { availableMethods, userMethods } from './second-factor-methods.ts';
import { confirmTotpRegistration, pendingRegistration, removeTotp, startTotpRegistration } from './totp-registration.ts';

const tOf = (req: Request) => translator(requestLanguage(req));

/** Where the browser goes once the session has its second factor: the target when allowed, else the portal. */
function afterSecondFactor(deps: PortalDeps, req: Request, rd: string, rm: string): string {
  const next = redirectAfterLogin(req, rd || undefined, rm || undefined, deps.authorizer, requestIp(req, deps));
  return next && 'redirect' in next ? next.redirect : portalBase(req);
}

/** `?rd=…&rm=…` for links that keep the target (rd only when it could ever be followed). */
function targetQuery(req: Request, rd: string, rm: string): string {
  const safe = rd && isSafeRedirect(rd, [req.cookieDomain!.domain]) ? rd : '';
  const params = new URLSearchParams();
  if (safe) params.set('rd', safe);
  if (safe && rm) params.set('rm', rm);
  const query = params.toString();
  return query ? `?${query}` : '';
}

interface StepView {
  rd: string;
  rm: string;
  /** the tab shown: 'totp', 'recovery' or 'webauthn' */
  tab?: string;
  error?: string;
  code?: CodeKind;
}

async function renderStep(deps: PortalDeps, req: Request, res: Response, view: StepView, status = 200): Promise<void> {
  const user = signedInUser(req);
  const methods = await userMethods(deps, user.username);
  const webauthnEnabled = availableMethods(deps.secondFactor).includes('webauthn');
  // a passkey session without user verification has possession only: the password is what it lacks
  const tabs = needsPasswordStep(req)
    ? ['password']
    : [
        ...(methods.hasTotp ? ['totp'] : []),
        ...(methods.hasWebauthn ? ['webauthn'] : []),
        ...(methods.recoveryCodes > 0 ? ['recovery'] : []),
      ];
  // the preferred method first, then the others in their usual order
  const ordered = [...tabs.filter((tab) => tab === methods.method), ...tabs.filter((tab) => tab !== methods.method)];
  const tab = view.tab && ordered.includes(view.tab) ? view.tab : (ordered[0] ?? '');
  const query = targetQuery(req, view.rd, view.rm);
  render(res, deps, '2fa', {
    rd: view.rd,
    rm: view.rm,
    error: view.error ?? '',
    tabs: ordered.map((name) => ({ name, href: `${portalBase(req)}2fa${query}${query ? '&' : '?'}method=${name}`, current: name === tab })),
    tab,
    webauthnEnabled: webauthnEnabled && methods.hasWebauthn,
    recoveryCodes: methods.recoveryCodes,
    recoveryLow: methods.recoveryCodes > 0 && methods.recoveryCodes <= RECOVERY_CODES_LOW,
    settingsHref: `${portalBase(req)}settings/totp`,
    username: user.username,
  }, status);
}

/** GET /2fa */
export function secondFactorPage(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const rd = field(req.query, 'rd');
    const rm = field(req.query, 'rm');
    // a session that already has two factors goes on (or back to the portal), it has nothing to do here
    if (authenticationLevel(req.session.amr) >= 2) return res.redirect(302, afterSecondFactor(deps, req, rd, rm));
    await renderStep(deps, req, res, { rd, rm, tab: field(req.query, 'method') });
  };
}

function codeForm(kind: CodeKind) {
  return (deps: PortalDeps) => async (req: Request, res: Response) => {
    const rd = field(req.body, 'rd');
    const rm = field(req.body, 'rm');
    const tab = kind === 'totp' ? 'totp' : 'recovery';
    const t = tOf(req);
    const user = signedInUser(req);
    const outcome = await checkSecondFactorCode(deps, req, user, kind, field(req.body, 'code'), { uri: rd, method: rm || 'GET' });
    if (!outcome.ok) {
      if (outcome.reason === 'locked_out') {
        const seconds = lockoutSeconds(outcome.until, deps.now());
        if (seconds !== undefined) res.set('Retry-After', String(seconds));
        return renderStep(deps, req, res, { rd, rm, tab, error: seconds === undefined ? t('2fa_locked_out') : t('2fa_locked_out_minutes', { minutes: Math.ceil(seconds / 60) }) }, 429);
      }
      const error = outcome.reason === 'not_registered' ? t(kind === 'totp' ? '2fa_totp_not_registered' : '2fa_recovery_none') : t(kind === 'totp' ? '2fa_totp_wrong' : '2fa_recovery_wrong');
      return renderStep(deps, req, res, { rd, rm, tab, error }, 401);
    }
    const next = afterSecondFactor(deps, req, rd, rm);
    if (kind === 'recovery_code') {
      // say how many are left before going on: the only place a user learns a code was spent
      const remaining = await deps.storage.recoveryCodes.remaining(user.username);
      const low = remaining <= RECOVERY_CODES_LOW;
      return render(res, deps, 'message', {
        title: t('2fa_recovery_used_title'),
        message: `${t('2fa_recovery_remaining', { count: remaining })}${low ? ` ${t('2fa_recovery_low')}` : ''}`,
        alert: low,
        link: { href: next, text: t('2fa_continue') },
      });
    }
    res.redirect(303, next);
  };
}

/** POST /2fa/totp */
export const totpForm = codeForm('totp');

/** POST /2fa/password: the password as a passkey session's second factor. */
export function passwordForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const rd = field(req.body, 'rd');
    const rm = field(req.body, 'rm');
    const t = tOf(req);
    const outcome = await checkSessionPassword(deps, req, field(req.body, 'password'), { uri: rd, method: rm || 'GET' });
    if (!outcome.ok) {
      if (outcome.busy) {
        res.set('Retry-After', String(outcome.busy.retryAfterSeconds));
        return renderStep(deps, req, res, { rd, rm, tab: 'password', error: t('login_busy', { seconds: outcome.busy.retryAfterSeconds }) }, 429);
      }
      if (outcome.reason === 'locked_out') {
        const seconds = lockoutSeconds(outcome.until, deps.now());
        if (seconds !== undefined) res.set('Retry-After', String(seconds));
        return renderStep(deps, req, res, { rd, rm, tab: 'password', error: seconds === undefined ? t('2fa_locked_out') : t('2fa_locked_out_minutes', { minutes: Math.ceil(seconds / 60) }) }, 429);
      }
      // not_registered: the password is already proven; the step shows what is left
      if (outcome.reason === 'not_registered') return res.redirect(303, `${portalBase(req)}2fa${targetQuery(req, rd, rm)}`);
      return renderStep(deps, req, res, { rd, rm, tab: 'password', error: t('2fa_password_wrong') }, 401);
    }
    res.redirect(303, afterSecondFactor(deps, req, rd, rm));
  };
}
/** POST /2fa/recovery-code */
export const recoveryCodeForm = codeForm('recovery_code');

async function renderRegistration(deps: PortalDeps, req: Request, res: Response, error = '', status = 200): Promise<void> {
  const user = signedInUser(req);
  const pending = pendingRegistration(req, deps.now()) ?? (await startTotpRegistration(deps, req));
  if (!pending) {
    const t = tOf(req);
    return render(res, deps, 'message', { title: t('totp_disabled_title'), message: t('totp_disabled'), link: { href: `${portalBase(req)}settings`, text: t('totp_back_to_settings') } }, 404);
  }
  const uri = await otpauthUri(pending, user.username);
  const options = totpOptions(deps.secondFactor.totp);
  render(res, deps, 'totp-register', {
    error,
    qr: await qrCodeSvg(uri),
    uri,
    secret: pending.secret.replace(/(.{4})/g, '$1 ').trim(),
    algorithm: pending.algorithm,
    digits: pending.digits,
    period: pending.period,
    choices: options.algorithms.length + options.lengths.length + options.periods.length > 3 ? options : null,
    hasTotp: (await deps.storage.totp.load(user.username)) !== undefined,
  }, status);
}

/** GET /settings/totp: a new key with its QR code, URI and secret (kept in the session until confirmed). */
export function totpRegisterPage(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const choice = { algorithm: field(req.query, 'algorithm'), length: Number(field(req.query, 'length')), period: Number(field(req.query, 'period')) };
    if (choice.algorithm || choice.length || choice.period) {
      const started = await startTotpRegistration(deps, req, {
        ...(choice.algorithm ? { algorithm: choice.algorithm } : {}),
        ...(choice.length ? { length: choice.length } : {}),
        ...(choice.period ? { period: choice.period } : {}),
      });
      if (!started) return renderRegistration(deps, req, res, tOf(req)('totp_choice_not_allowed'), 400);
    }
    await renderRegistration(deps, req, res);
  };
}

/** POST /settings/totp: the first code from the app completes the registration. */
export function totpRegisterForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const t = tOf(req);
    const result = await confirmTotpRegistration(deps, req, signedInUser(req), field(req.body, 'code'));
    if (!result.ok) return renderRegistration(deps, req, res, t(result.reason === 'invalid' ? 'totp_register_wrong' : 'totp_register_expired'), result.reason === 'invalid' ? 401 : 400);
    render(res, deps, 'message', {
      title: t('totp_added_title'),
      message: `${t('totp_added')}${result.mailed ? '' : ` ${t('totp_notice_not_sent')}`}`,
      link: { href: `${portalBase(req)}settings`, text: t('totp_back_to_settings') },
    });
  };
}

/** POST /settings/totp/delete */
export function totpDeleteForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const t = tOf(req);
    const { removed, mailed } = await removeTotp(deps, req, signedInUser(req));
    render(res, deps, 'message', {
      title: t(removed ? 'totp_removed_title' : 'totp_none_title'),
      message: removed ? `${t('totp_removed')}${mailed ? '' : ` ${t('totp_notice_not_sent')}`}` : t('totp_none'),
      link: { href: `${portalBase(req)}settings`, text: t('totp_back_to_settings') },
    }, removed ? 200 : 404);
  };
}

/** POST /settings/recovery-codes: a new set, shown this once. */
export function recoveryCodesForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const codes = await regenerateRecoveryCodes(deps, req, signedInUser(req));
    render(res, deps, 'recovery-codes', { codes, settingsHref: `${portalBase(req)}settings` });
  };
}
