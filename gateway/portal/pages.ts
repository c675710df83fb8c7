/** The portal's HTML pages. They work without JavaScript: plain forms posting to the same origin. */
import type { Request, Response } from 'express';
import { GatehouseError, type ErrorCode } from '../../lib/errors.ts';
import { isSafeRedirect } from '../authz/redirect.ts';
import { currentIdentity } from './current-user.ts';
import { requestIp, type PortalDeps } from './deps.ts';
import { establishSession, redirectAfterLogin } from './login.ts';
import { clearSessionCookie, destroy } from './session-middleware.ts';
import { forgetSession } from './session-index.ts';
import { SetupClosedError } from './setup.ts';
import { StorageError } from '../storage/errors.ts';
import { DEFAULT_PASSWORD_POLICY } from '../../lib/password-policy.ts';
import { PORTAL_LANGUAGES, portalCatalogue, portalLanguage, requestLanguage, translator, type PortalLanguage, type Translate } from './i18n.ts';
import { offersPasswordReset } from './password-reset.ts';

const policyOf = (deps: PortalDeps) => deps.passwordPolicy ?? DEFAULT_PASSWORD_POLICY;

/** The setup form's label and `minlength`, from the one password policy. */
function passwordRule(deps: PortalDeps) {
  const { summary, minLength } = policyOf(deps);
  return { passwordRule: summary, passwordMinLength: minLength };
}

/** A string field of a form body or query (empty when absent or not a string). */
export function field(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
}

/** The portal's own path (`/`, or `/auth/` when it shares a host with a proxied app). */
export function portalBase(req: Request): string {
  return `${req.baseUrl}/`;
}

/** The request's strings, for a handler that words a message before rendering (no cookie is set here). */
export function pageTranslator(req: Request): Translate {
  return translator(requestLanguage(req));
}

/** The second-factor step, coming back to `rd` (only ever called with a safe target that needs two factors). */
function secondFactorStep(req: Request, rd: string, rm: string): string {
  return `${portalBase(req)}2fa?rd=${encodeURIComponent(rd)}${rm ? `&rm=${encodeURIComponent(rm)}` : ''}`;
}

/** Where a page's language switch points: a GET page is itself; a form's answer names the page to reload. */
export interface PageAddress {
  /** path relative to the portal's base ('' for the sign-in page) */
  path: string;
  query?: Readonly<Record<string, string>>;
}

export interface LanguageLink {
  lang: PortalLanguage;
  /** the language's name in itself */
  name: string;
  href: string;
  current: boolean;
}

/**
 * One link per language to this same page with `?lang=`, keeping its other query parameters (rd, rm,
 * token). A form's answer (POST) links to `here`, or to the sign-in page with its rd/rm.
 */
export function languageLinks(req: Request, lang: PortalLanguage, here?: PageAddress, data: Record<string, unknown> = {}): LanguageLink[] {
  let path: string;
  let params: URLSearchParams;
  if (here) {
    path = `${portalBase(req)}${here.path}`;
    params = new URLSearchParams(Object.entries(here.query ?? {}).filter(([, value]) => value !== ''));
  } else if (req.method === 'GET' || req.method === 'HEAD') {
    const url = new URL(req.originalUrl, 'http://portal.invalid');
    path = url.pathname;
    params = url.searchParams;
  } else {
    path = portalBase(req);
    params = new URLSearchParams();
    for (const name of ['rd', 'rm']) if (typeof data[name] === 'string' && data[name] !== '') params.set(name, data[name]);
  }
  return PORTAL_LANGUAGES.map((language) => {
    const query = new URLSearchParams(params);
    query.set('lang', language);
    return { lang: language, name: portalCatalogue(language).language_name ?? language, href: `${path}?${query}`, current: language === lang };
  });
}

/**
 * Renders a portal page in the request's language: every template gets `base` (the portal's path),
 * `lang`, `t(key, values)` (portal/i18n.ts) and `languageLinks` (the switch) besides its own data.
 * `data.here` names the page a form's answer stands for (see languageLinks).
 */
export function render(res: Response, deps: Pick<PortalDeps, 'eta'>, template: string, data: Record<string, unknown> & { here?: PageAddress }, status = 200): void {
  const lang = portalLanguage(res.req, res);
  const links = languageLinks(res.req, lang, data.here, data);
  res.status(status).type('html').send(deps.eta.render(template, { base: portalBase(res.req), lang, t: translator(lang), languageLinks: links, ...data }));
}

function loginView(deps: PortalDeps, req: Request, rd: string, rm: string, username = '', error = '') {
  const webauthn = deps.secondFactor.webauthn;
  return {
    rd, rm, username, error,
    rememberMe: (req.cookieDomain?.rememberMe ?? -1) > 0,
    // the "forgot password" link: the built-in reset, or password_reset.custom_url
    passwordResetLink: deps.secondFactor.passwordResetCustomUrl ?? (offersPasswordReset(deps) ? `${portalBase(req)}reset-password` : null),
    // the passkey button (templates/portal/login-passkey.eta) only where passkey sign-in is served
    passkeyLogin: !webauthn.disable && webauthn.enable_passkey_login,
  };
}

/** Seconds until a ban ends (at least 1), or undefined for a ban that lasts until revoked. */
export function lockoutSeconds(until: number | undefined, now: number): number | undefined {
  return until === undefined ? undefined : Math.max(1, Math.ceil((until - now) / 1000));
}

/** "Too many attempts: try again in N minutes", in `t`'s language (English when none is given). */
export function lockoutMessage(seconds: number | undefined, t: Translate = translator('en')): string {
  if (seconds === undefined) return t('login_locked_out_later');
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? t('login_locked_out_one_minute') : t('login_locked_out_minutes', { minutes });
}

export function loginPage(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const rd = typeof req.query.rd === 'string' ? req.query.rd : '';
    const rm = typeof req.query.rm === 'string' ? req.query.rm : '';
    const identity = await currentIdentity(req, deps);
    const t = pageTranslator(req);
    if (!identity) {
      if (deps.setup.isOpen()) {
        return render(res, deps, 'message', { title: t('login_setup_required_title'), message: t('login_setup_required') });
      }
      return render(res, deps, 'login', loginView(deps, req, rd, rm));
    }
    const next = redirectAfterLogin(req, rd || undefined, rm || undefined, deps.authorizer, requestIp(req, deps));
    if (rd && next && 'redirect' in next) return res.redirect(302, next.redirect);
    // a one-factor session sent here for a two_factor target: on to the second-factor step, then back
    if (next && 'secondFactorRequired' in next) return res.redirect(302, secondFactorStep(req, rd, rm));
    render(res, deps, 'signed-in', {
      username: identity.username,
      displayName: identity.displayName,
      continueUrl: next && 'redirect' in next ? next.redirect : '',
      notice: rd && !(next && 'redirect' in next) ? t('signed_in_not_allowed') : '',
    });
  };
}

export function loginForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const username = field(req.body, 'username');
    const password = field(req.body, 'password');
    const rd = field(req.body, 'rd');
    const rm = field(req.body, 'rm');
    const ip = requestIp(req, deps);
    const t = pageTranslator(req);
    const result = username && password
      ? await deps.firstFactor.verify({ username, password, ip, method: 'portal', requestUri: rd, requestMethod: rm, deferSuccessAudit: true })
      : { ok: false as const };
    if (!result.ok && result.busy) {
      res.set('Retry-After', String(result.busy.retryAfterSeconds));
      return render(res, deps, 'login', loginView(deps, req, rd, rm, username, t('login_busy', { seconds: result.busy.retryAfterSeconds })), 429);
    }
    if (!result.ok && result.lockedOut) {
      // the same words for an unknown name: the regulator counts and bans it like an account
      const seconds = lockoutSeconds(result.lockedOut.until, deps.now());
      if (seconds !== undefined) res.set('Retry-After', String(seconds));
      return render(res, deps, 'login', loginView(deps, req, rd, rm, username, lockoutMessage(seconds, t)), 429);
    }
    if (!result.ok) return render(res, deps, 'login', loginView(deps, req, rd, rm, username, t('login_incorrect')), 401);
    await establishSession(req, result.user, field(req.body, 'keepMeLoggedIn') === 'true', deps.now(), deps.audit, ip, deps.storage.userSessions);
    const next = redirectAfterLogin(req, rd || undefined, rm || undefined, deps.authorizer, ip);
    if (next && 'secondFactorRequired' in next) return res.redirect(303, secondFactorStep(req, rd, rm));
    const to = next && 'redirect' in next ? next.redirect : `${portalBase(req)}${rd && isSafeRedirect(rd, [req.cookieDomain!.domain]) ? `?rd=${encodeURIComponent(rd)}` : ''}`;
    res.redirect(303, to);
  };
}

export function logoutForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    if (req.session?.identity) {
      await deps.sessionEnded?.(req.session);
      await forgetSession(req, deps);
      await destroy(req);
    }
    clearSessionCookie(req, res);
    res.redirect(303, portalBase(req));
  };
}

function setupLinkNotValid(req: Request, res: Response, deps: PortalDeps) {
  const t = pageTranslator(req);
  render(res, deps, 'message', { title: t('setup_link_invalid_title'), message: t('setup_link_invalid'), alert: true, link: { href: portalBase(req), text: t('common_go_to_sign_in') } }, 404);
}

export function setupPage(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    if (!(await deps.setup.check(req.query.token))) return setupLinkNotValid(req, res, deps);
    render(res, deps, 'setup', { token: req.query.token, username: '', displayName: '', email: '', error: '', ...passwordRule(deps) });
  };
}

/** What the setup form says (catalogue keys) when a code's own message is not written for the person at the form. */
const SETUP_FAILURES: Partial<Record<ErrorCode, string>> = {
  user_exists: 'setup_user_exists',
  users_file_invalid: 'setup_users_file_invalid',
};

/** Why creating the administrator failed, in words for the person at the form; never an exception's text. */
function setupFailure(error: unknown, deps: PortalDeps, t: Translate): string {
  // written for people where it is thrown: it says which field to change and how (English only)
  if (error instanceof GatehouseError && error.code === 'invalid_user_input') return error.message;
  deps.logger.error({ err: error }, 'first-run setup: the administrator could not be created');
  return t((error instanceof GatehouseError ? SETUP_FAILURES[error.code] : undefined) ?? 'setup_failed');
}

export function setupForm(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const token = field(req.body, 'token');
    if (!(await deps.setup.check(token))) return setupLinkNotValid(req, res, deps);
    const input = {
      username: field(req.body, 'username').trim(),
      displayName: field(req.body, 'displayName').trim(),
      email: field(req.body, 'email').trim(),
      password: field(req.body, 'password'),
    };
    const t = pageTranslator(req);
    const again = (error: string) => render(res, deps, 'setup', { token, ...input, error, ...passwordRule(deps), here: { path: 'setup', query: { token } } }, 400);
    const weak = policyOf(deps).problem(input.password, input.username);
    if (weak !== null) return again(`${weak}.`);
    if (input.password !== field(req.body, 'confirm')) return again(t('setup_passwords_differ'));
    try {
      await deps.setup.createAdmin({ username: input.username, password: input.password, displayName: input.displayName || input.username, email: input.email || undefined });
    } catch (error) {
      if (error instanceof SetupClosedError) return setupLinkNotValid(req, res, deps);
      if (error instanceof StorageError) throw error; // the error handler's 503, not a form error
      return again(setupFailure(error, deps, t));
    }
    deps.logger.info({ user: input.username }, 'first-run setup: administrator created');
    render(res, deps, 'message', { title: t('setup_done_title'), message: t('setup_done', { username: input.username }), link: { href: portalBase(req), text: t('common_sign_in') } });
  };
}
