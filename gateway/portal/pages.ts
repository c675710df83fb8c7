/** The portal's HTML pages. They work without JavaScript: plain forms posting to the same origin. */
import type { Request, Response } from 'express';
import { GatehouseError, type ErrorCode } from '../../lib/errors.ts';
import { isSafeRedirect } from '../authz/redirect.ts';
import { currentIdentity } from './current-user.ts';
import { requestIp, type PortalDeps } from './deps.ts';
import { establishSession, redirectAfterLogin } from './login.ts';
import { destroy } from './session-middleware.ts';
import { SetupClosedError } from './setup.ts';
import { StorageError } from '../storage/errors.ts';
import { DEFAULT_PASSWORD_POLICY } from '../../lib/password-policy.ts';
import { portalLanguage, translator } from './i18n.ts';

const policyOf = (deps: PortalDeps) => deps.passwordPolicy ?? DEFAULT_PASSWORD_POLICY;

/** The setup form's label and `minlength`, from the one password policy. */
function passwordRule(deps: PortalDeps) {
  const { summary, minLength } = policyOf(deps);
  return { passwordRule: summary, passwordMinLength: minLength };
}

function field(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
}

/** The portal's own path (`/`, or `/auth/` when it shares a host with a proxied app). */
export function portalBase(req: Request): string {
  return `${req.baseUrl}/`;
}

/**
 * Renders a portal page in the request's language: every template gets `base` (the portal's path),
 * `lang` and `t(key, values)` (portal/i18n.ts) besides its own data.
 */
export function render(res: Response, deps: Pick<PortalDeps, 'eta'>, template: string, data: Record<string, unknown>, status = 200): void {
  const lang = portalLanguage(res.req, res);
  res.status(status).type('html').send(deps.eta.render(template, { base: portalBase(res.req), lang, t: translator(lang), ...data }));
}

function loginView(deps: PortalDeps, req: Request, rd: string, rm: string, username = '', error = '') {
  const webauthn = deps.secondFactor.webauthn;
  // the passkey button (templates/portal/login-passkey.eta) only where passkey sign-in is served
  return { rd, rm, username, error, rememberMe: (req.cookieDomain?.rememberMe ?? -1) > 0, passkeyLogin: !webauthn.disable && webauthn.enable_passkey_login };
}

/** Seconds until a ban ends (at least 1), or undefined for a ban that lasts until revoked. */
function lockoutSeconds(until: number | undefined, now: number): number | undefined {
  return until === undefined ? undefined : Math.max(1, Math.ceil((until - now) / 1000));
}

export function lockoutMessage(seconds: number | undefined): string {
  if (seconds === undefined) return 'Too many attempts: try again later.';
  const minutes = Math.ceil(seconds / 60);
  return `Too many attempts: try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
}

export function loginPage(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const rd = typeof req.query.rd === 'string' ? req.query.rd : '';
    const rm = typeof req.query.rm === 'string' ? req.query.rm : '';
    const identity = await currentIdentity(req, deps);
    if (!identity) {
      if (deps.setup.isOpen()) {
        return render(res, deps, 'message', { title: 'Setup required', message: 'No user exists yet. Open the one-time setup link printed in the Gatehouse log to create the administrator.' });
      }
      return render(res, deps, 'login', loginView(deps, req, rd, rm));
    }
    const next = redirectAfterLogin(req, rd || undefined, rm || undefined, deps.authorizer, requestIp(req, deps));
    if (rd && next && 'redirect' in next) return res.redirect(302, next.redirect);
    render(res, deps, 'signed-in', {
      username: identity.username,
      displayName: identity.displayName,
      continueUrl: next && 'redirect' in next ? next.redirect : '',
      notice: next && 'secondFactorRequired' in next ? 'This site requires a second factor, which is not enrolled for your account yet.' : rd && !(next && 'redirect' in next) ? 'You are not allowed to open the page you came from.' : '',
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
    const result = username && password
      ? await deps.firstFactor.verify({ username, password, ip, method: 'portal', requestUri: rd, requestMethod: rm, deferSuccessAudit: true })
      : { ok: false as const };
    if (!result.ok && result.busy) {
      res.set('Retry-After', String(result.busy.retryAfterSeconds));
      return render(res, deps, 'login', loginView(deps, req, rd, rm, username, result.busy.message), 429);
    }
    if (!result.ok && result.lockedOut) {
      // the same words for an unknown name: the regulator counts and bans it like an account
      const seconds = lockoutSeconds(result.lockedOut.until, deps.now());
      if (seconds !== undefined) res.set('Retry-After', String(seconds));
      return render(res, deps, 'login', loginView(deps, req, rd, rm, username, lockoutMessage(seconds)), 429);
    }
    if (!result.ok) return render(res, deps, 'login', loginView(deps, req, rd, rm, username, 'Incorrect username or password.'), 401);
    await establishSession(req, result.user, field(req.body, 'keepMeLoggedIn') === 'true', deps.now(), deps.audit, ip);
    const next = redirectAfterLogin(req, rd || undefined, rm || undefined, deps.authorizer, ip);
    const to = next && 'redirect' in next ? next.redirect : `${portalBase(req)}${rd && isSafeRedirect(rd, [req.cookieDomain!.domain]) ? `?rd=${encodeURIComponent(rd)}` : ''}`;
    res.redirect(303, to);
  };
}

export function logoutForm() {
  return async (req: Request, res: Response) => {
    if (req.session?.identity) await destroy(req);
    const domain = req.cookieDomain!;
    res.clearCookie(domain.name, { domain: domain.cookieDomainAttribute, path: '/', secure: domain.secure, httpOnly: true, sameSite: domain.sameSite });
    res.redirect(303, portalBase(req));
  };
}

function setupLinkNotValid(req: Request, res: Response, deps: PortalDeps) {
  render(res, deps, 'message', { title: 'Setup link not valid', message: 'This setup link is not valid or setup is already complete.', alert: true, link: { href: portalBase(req), text: 'Go to sign in' } }, 404);
}

export function setupPage(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    if (!(await deps.setup.check(req.query.token))) return setupLinkNotValid(req, res, deps);
    render(res, deps, 'setup', { token: req.query.token, username: '', displayName: '', email: '', error: '', ...passwordRule(deps) });
  };
}

/** What the setup form says when a code's own message is not written for the person at the form. */
const SETUP_FAILURES: Partial<Record<ErrorCode, string>> = {
  user_exists: 'That username is taken; choose another.',
  users_file_invalid: 'The users file cannot be used, so the administrator was not created; the Gatehouse log says why.',
};
const SETUP_FAILED = 'The administrator could not be created; the Gatehouse log says why.';

/** Why creating the administrator failed, in words for the person at the form; never an exception's text. */
function setupFailure(error: unknown, deps: PortalDeps): string {
  // written for people where it is thrown: it says which field to change and how
  if (error instanceof GatehouseError && error.code === 'invalid_user_input') return error.message;
  deps.logger.error({ err: error }, 'first-run setup: the administrator could not be created');
  return (error instanceof GatehouseError ? SETUP_FAILURES[error.code] : undefined) ?? SETUP_FAILED;
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
    const again = (error: string) => render(res, deps, 'setup', { token, ...input, error, ...passwordRule(deps) }, 400);
    const weak = policyOf(deps).problem(input.password, input.username);
    if (weak !== null) return again(`${weak}.`);
    if (input.password !== field(req.body, 'confirm')) return again('The two passwords differ.');
    try {
      await deps.setup.createAdmin({ username: input.username, password: input.password, displayName: input.displayName || input.username, email: input.email || undefined });
    } catch (error) {
      if (error instanceof SetupClosedError) return setupLinkNotValid(req, res, deps);
      if (error instanceof StorageError) throw error; // the error handler's 503, not a form error
      return again(setupFailure(error, deps));
    }
    deps.logger.info({ user: input.username }, 'first-run setup: administrator created');
    render(res, deps, 'message', { title: 'Administrator created', message: `The account ${input.username} is ready.`, link: { href: portalBase(req), text: 'Sign in' } });
  };
}
