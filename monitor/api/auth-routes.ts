/**
 * The monitor's account API, with ProxMenux Monitor's paths and request/response shapes (`success`,
 * `message`, `error` for setup, `requires_totp`, `token`, …) so its clients keep working, minus its
 * holes: every change needs a full_admin identity, re-entering the password (and the 2FA code when 2FA
 * is on) for anything that touches credentials; every credential is rate limited and audited.
 *
 * The router expects identify() (monitor/auth/identity.ts) to have run. Each route below names its
 * guard; routes without one are public.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Scope } from '../config/schema.ts';
import { AvatarFiles, MAX_AVATAR_BYTES, sniffImageType } from '../auth/avatar.ts';
import type { MonitorAuthDeps } from '../auth/deps.ts';
import type { RateLimitAttempt } from '../auth/rate-limit.ts';
import { readOnlyGuard, requireAuth, requireScope } from '../auth/identity.ts';
import { passwordPolicyProblem, type PasswordCheck } from '../auth/passwords.ts';
import { PasswordChecksBusy } from '../../lib/password-checks.ts';
import {
  SSL_DISABLED,
  SslSettingsError,
  certificateInfoAt,
  checkCertificatePair,
  findProxmoxCertificates,
  readSslSettings,
  writeSslSettings,
  type SslSettings,
} from '../auth/ssl-settings.ts';
import { AuthStoreUnavailable, hasCredentials, type AuthState } from '../auth/store.ts';
import { describeApiToken, issueApiToken, issueSession, revokeJti } from '../auth/tokens.ts';
import { checkTotp, consumeSecondFactor, generateBackupCodes, newTotpSecret, provisioningUri, qrCodeDataUrl, type SecondFactorCheck } from '../auth/totp.ts';
import { ROUTING } from '../request-path.ts';


const JSON_LIMIT = '64kb';
const MAX_USERNAME = 64;
const MAX_TOKEN_DAYS = 3650;

type Body = Record<string, unknown>;

/** Wrap an async handler so a rejection reaches the error handler (which hides its text). */
function safe(handler: (req: Request, res: Response) => Promise<unknown>) {
  return (req: Request, res: Response, next: NextFunction) => {
    handler(req, res).catch(next);
  };
}

function bodyOf(req: Request): Body {
  const body: unknown = req.body;
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Body) : {};
}

function text(body: Body, key: string): string | undefined {
  const value = body[key];
  return typeof value === 'string' ? value : undefined;
}

function fail(res: Response, status: number, message: string, extra: Body = {}): void {
  res.status(status).json({ success: false, message, ...extra });
}

function hasNoBody(req: Request): boolean {
  return req.headers['transfer-encoding'] === undefined && (req.headers['content-length'] === undefined || req.headers['content-length'] === '0');
}

/** `application/json`, with or without parameters (charset). */
function saysJson(contentType: string): boolean {
  return contentType.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/**
 * JSON bodies only: a cross-site form can post urlencoded, multipart or text/plain without a CORS
 * preflight, never application/json, so this also keeps gateway-cookie users safe from CSRF.
 * A request without a body, untyped or typed JSON (as ProxMenux's frontend sends DELETE and its
 * body-less POSTs), is an empty JSON object; req.is() alone would call it "no type" and refuse it.
 */
export function requireJson(req: Request, res: Response, next: NextFunction): void {
  const type = req.headers['content-type'];
  if (hasNoBody(req) && (type === undefined || saysJson(type))) return next();
  if (type !== undefined && req.is('application/json')) return next();
  fail(res, 415, 'Send the request body as JSON (Content-Type: application/json)');
}

function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.set('Cache-Control', 'no-store');
  next();
}

const usernameRule = z
  .string()
  .min(1)
  .max(MAX_USERNAME)
  .regex(/^[A-Za-z0-9._@-]+$/);

const displayNameRule = z
  .string()
  .max(64)
  .refine((v) => !/[\p{Cc}\p{Cf}]/u.test(v));

const tokenNameRule = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .refine((v) => !/[\p{Cc}\p{Cf}]/u.test(v));

type SecondFactorProblem = Exclude<SecondFactorCheck, { ok: true }>['reason'];

/** A credential that just stopped working: app.ts closes the terminal sessions opened with it. */
export type EndedCredential = { jti: string } | { localAccount: string };

export interface AuthRouterOptions {
  onCredentialEnded?: (ended: EndedCredential) => void;
}

const SETUP_CODE_REQUIRED = "Setup code required: see the monitor's log";

/** Why a credential change did not happen (inside AuthStore.update, so nothing was written). */
interface Refusal {
  ok: false;
  message: string;
  reason?: SecondFactorProblem;
}

const SECOND_FACTOR_MESSAGES: Record<SecondFactorProblem, string> = {
  missing: '2FA code required',
  invalid: 'Invalid 2FA code',
  replayed: '2FA code already used; wait for the next one',
};

export function createAuthRouter(deps: MonitorAuthDeps, options: AuthRouterOptions = {}): express.Router {
  const { store, audit, rateLimiter, passwords, config, setupCode } = deps;
  const credentialEnded = (ended: EndedCredential) => options.onCredentialEnded?.(ended);
  const avatars = new AvatarFiles(config.data_dir);
  const json = [requireJson, express.json({ limit: JSON_LIMIT, type: 'application/json' })];
  const admin = requireScope('full_admin');
  const nowSeconds = () => Math.floor(deps.now() / 1000);

  /** Answers 429 and returns true when this client or user must wait. */
  const limited = (req: Request, res: Response, user: string | null, method: string): boolean => {
    const decision = rateLimiter.check({ ip: req.clientIp!, user });
    if (!decision.limited) return false;
    audit.rateLimited({ rhost: req.clientIp!, user, method, retryAfterSeconds: decision.retryAfterSeconds });
    res.set('Retry-After', String(decision.retryAfterSeconds));
    fail(res, 429, 'Too many attempts. Please wait and try again.', { retry_after: decision.retryAfterSeconds });
    return true;
  };

  /** Counts the attempt before it is checked (see RateLimiter.reserve); answers 429 and returns null when limited. */
  const reserve = (req: Request, res: Response, user: string | null, method: string): Extract<RateLimitAttempt, { limited: false }> | null => {
    const attempt = rateLimiter.reserve({ ip: req.clientIp!, user });
    if (!attempt.limited) return attempt;
    audit.rateLimited({ rhost: req.clientIp!, user, method, retryAfterSeconds: attempt.retryAfterSeconds });
    res.set('Retry-After', String(attempt.retryAfterSeconds));
    fail(res, 429, 'Too many attempts. Please wait and try again.', { retry_after: attempt.retryAfterSeconds });
    return null;
  };

  /**
   * The password checked behind the process's password-check limiter. Too many checks in flight:
   * answers 429 with Retry-After (nothing was checked, so nothing is counted) and returns null.
   */
  const checkPassword = async (req: Request, res: Response, storedHash: string | null, password: string, user: string | null, method: string): Promise<PasswordCheck | null> => {
    try {
      return await passwords.verify(storedHash, password, req.clientIp!);
    } catch (error) {
      if (!(error instanceof PasswordChecksBusy)) throw error;
      audit.rateLimited({ rhost: req.clientIp!, user, method, retryAfterSeconds: error.retryAfterSeconds });
      res.set('Retry-After', String(error.retryAfterSeconds));
      fail(res, 429, error.message, { retry_after: error.retryAfterSeconds });
      return null;
    }
  };

  /** A wrong credential: counted for the rate limit (unless a reservation already counts it) and written for Fail2Ban. */
  const failed = (req: Request, user: string | null, method: string, reason: string, reserved = false): void => {
    if (!reserved) rateLimiter.fail({ ip: req.clientIp!, user });
    audit.failure({ rhost: req.clientIp!, user, method, reason });
  };

  /**
   * Setup, skip and decline while unconfigured: a full_admin caller, or the setup code. Answers 403 (an
   * audited, rate-limited failure) and returns false otherwise. Synchronous: check and count are one step.
   */
  const setupAllowed = (req: Request, res: Response, method: string): boolean => {
    if (req.identity?.scope === 'full_admin' || setupCode.matches(bodyOf(req).setup_code)) return true;
    failed(req, null, method, 'bad_setup_code');
    res.status(403).json({ success: false, error: SETUP_CODE_REQUIRED, message: SETUP_CODE_REQUIRED });
    return false;
  };

  const succeeded = (req: Request, user: string | null, method: string): void => {
    audit.success({ rhost: req.clientIp!, user, method });
  };

  /**
   * The re-entered password of the local account, rate limited and audited. Answers and returns null
   * on any problem; returns the state it checked against otherwise.
   */
  const confirmPassword = async (
    req: Request,
    res: Response,
    method: string,
    password: string | undefined,
    wrongStatus: 400 | 401 = 400,
  ): Promise<AuthState | null> => {
    const state = await store.read();
    if (!hasCredentials(state)) {
      fail(res, 400, 'Authentication is not configured');
      return null;
    }
    // reserved before the slow check so parallel guesses cannot all pass the limit (released when right)
    const attempt = reserve(req, res, state.username, method);
    if (!attempt) return null;
    if (!password) {
      attempt.release();
      fail(res, 400, 'Password required');
      return null;
    }
    const check = await checkPassword(req, res, state.password_hash, password, state.username, method);
    if (check === null) {
      attempt.release();
      return null;
    }
    if (!check.ok) {
      failed(req, state.username, method, 'bad_password', true);
      fail(res, wrongStatus, method === 'change_password' ? 'Current password is incorrect' : 'Invalid password');
      return null;
    }
    attempt.release();
    return state;
  };

  /** Within an update: the password hash is still the one checked, else someone changed it meanwhile. */
  const unchanged = (draft: AuthState, checked: AuthState) => draft.password_hash === checked.password_hash && draft.username === checked.username;

  /**
   * Within an update, before a credential change: the account is still the one whose password was
   * checked and, with 2FA on, `code` is valid and now spent. Null when the change may go ahead.
   */
  const refusal = (draft: AuthState, checked: AuthState, code: string | undefined): Refusal | null => {
    if (!unchanged(draft, checked)) return { ok: false, message: 'The account changed meanwhile; try again' };
    if (!draft.totp_enabled) return null;
    const second = consumeSecondFactor(draft, code, deps.now());
    return second.ok ? null : { ok: false, message: SECOND_FACTOR_MESSAGES[second.reason], reason: second.reason };
  };

  /** Answer a refusal; a wrong or reused code counts as a failed credential. */
  const refuse = (req: Request, res: Response, user: string | null, method: string, r: Refusal, status = 400, extra: Body = {}): void => {
    if (r.reason === 'invalid' || r.reason === 'replayed') failed(req, user, method, r.reason === 'replayed' ? 'code_reused' : 'bad_2fa_code');
    fail(res, status, r.message, extra);
  };

  const r = express.Router(ROUTING);
  r.use(['/api/auth', '/api/ssl'], noStore, readOnlyGuard);

  // ── status, first run ─────────────────────────────────────────────────────────────────────────
  r.get('/api/auth/status', safe(async (req, res) => {
    const state = await store.read();
    // an unconfigured store (again, after disable or reset-password) gets its setup code logged now
    setupCode.refresh(state);
    const id = req.identity ?? null;
    // the username and 2FA state are the caller's business only once authenticated (ProxMenux leaked them)
    res.json({
      auth_enabled: state.enabled,
      auth_configured: state.configured,
      declined: state.declined,
      authenticated: id !== null,
      username: id?.username ?? null,
      totp_enabled: id ? state.totp_enabled : null,
      scope: id?.scope ?? null,
      via: id?.via ?? null,
    });
  }));

  r.post('/api/auth/setup', json, safe(async (req, res) => {
    const setupFail = (status: number, message: string) => res.status(status).json({ success: false, error: message, message });
    const body = bodyOf(req);
    const username = text(body, 'username')?.trim();
    const password = text(body, 'password');
    if (limited(req, res, null, 'setup')) return;
    const callerIsAdmin = req.identity?.scope === 'full_admin';
    const current = await store.read();
    setupCode.refresh(current);
    if (hasCredentials(current) || current.enabled || (current.configured && !callerIsAdmin)) {
      failed(req, username ?? null, 'setup', 'already_configured');
      return setupFail(400, 'Authentication is already configured');
    }
    // not public while unconfigured: a full_admin identity or the logged setup code (H1)
    if (limited(req, res, null, 'setup') || !setupAllowed(req, res, 'setup')) return;
    if (!username || !password) return setupFail(400, 'Username and password are required');
    if (!usernameRule.safeParse(username).success) {
      return setupFail(400, `Username must be 1–${MAX_USERNAME} characters: letters, digits, . _ @ -`);
    }
    const policy = passwordPolicyProblem(password, username);
    if (policy) return setupFail(400, policy);
    const hash = await passwords.hash(password);
    const token = await store.update(async (draft) => {
      // never over existing credentials; after "decline" only an authenticated admin may add a login
      if (hasCredentials(draft) || draft.enabled || (draft.configured && !callerIsAdmin)) return null;
      Object.assign(draft, {
        enabled: true, configured: true, declined: false, username, password_hash: hash,
        totp_enabled: false, totp_secret: null, last_totp_counter: null, backup_codes: [], totp_pending: null,
        // sessions of an earlier account with the same name (before a disable) stay void
        sessions_not_before: nowSeconds(),
        session_generation: draft.session_generation + 1, // and those of its last second too (L2)
      });
      setupCode.refresh(draft); // spent: single use
      return (await issueSession(draft, username, config.session_lifetime, deps.now())).token;
    });
    if (token === null) {
      failed(req, username, 'setup', 'already_configured');
      return setupFail(400, 'Authentication is already configured');
    }
    succeeded(req, username, 'setup');
    res.json({ success: true, token, message: 'Authentication configured successfully' });
  }));

  const decline = (path: 'skip' | 'decline') =>
    safe(async (req, res) => {
      if (limited(req, res, null, path)) return;
      const current = await store.read();
      setupCode.refresh(current);
      if (current.configured) return fail(res, 403, `Authentication is already configured; cannot ${path}.`);
      // like setup: a full_admin identity or the logged setup code, never anyone who can reach the port (H1)
      if (limited(req, res, null, path) || !setupAllowed(req, res, path)) return;
      const declined = await store.update((draft) => {
        if (draft.configured) return false;
        Object.assign(draft, {
          enabled: false, declined: true, configured: true, username: null, password_hash: null,
          totp_enabled: false, totp_secret: null, last_totp_counter: null, backup_codes: [], totp_pending: null,
        });
        setupCode.refresh(draft); // spent: single use
        return true;
      });
      if (!declined) return fail(res, 403, `Authentication is already configured; cannot ${path}.`);
      res.json({ success: true, message: 'Authentication declined', ...(path === 'skip' ? { auth_declined: true } : {}) });
    });
  r.post('/api/auth/skip', json, decline('skip'));
  r.post('/api/auth/decline', json, decline('decline'));

  // ── login, logout ─────────────────────────────────────────────────────────────────────────────
  r.post('/api/auth/login', json, safe(async (req, res) => {
    const body = bodyOf(req);
    const username = text(body, 'username')?.trim() ?? '';
    const password = text(body, 'password') ?? '';
    const code = text(body, 'totp_token');
    // counted before the slow password check so parallel guesses cannot all pass the limit (M2)
    const attempt = reserve(req, res, username || null, 'login');
    if (!attempt) return;
    let wrongCredential = false;
    try {
      if (!username || !password) return fail(res, 400, 'Username and password are required', { requires_totp: false });
      const state = await store.read();
      if (!state.enabled || !hasCredentials(state)) return fail(res, 401, 'Authentication is not enabled', { requires_totp: false });
      const known = username === state.username;
      const check = await checkPassword(req, res, known ? state.password_hash : null, password, username, 'login');
      if (check === null) return; // released below: it was not checked
      if (!check.ok) {
        wrongCredential = true;
        failed(req, username, 'login', known ? 'bad_password' : 'unknown_user', true);
        return fail(res, 401, 'Invalid username or password', { requires_totp: false });
      }
      if (state.totp_enabled && !code) return res.json({ success: false, requires_totp: true, message: '2FA code required' });
      const upgraded = check.upgrade ? await passwords.hash(password) : null;
      const outcome = await store.update(async (draft) => {
        if (!unchanged(draft, state) || !draft.enabled) return { ok: false as const, reason: 'changed' as const };
        let second: SecondFactorCheck | null = null;
        if (draft.totp_enabled) {
          second = consumeSecondFactor(draft, code, deps.now());
          if (!second.ok) return { ok: false as const, reason: second.reason };
        }
        // a ProxMenux pbkdf2 (or any non-argon2id) hash is replaced now that we know the password
        if (upgraded) draft.password_hash = upgraded;
        const session = await issueSession(draft, username, config.session_lifetime, deps.now());
        const backupLeft = second?.ok && second.method === 'backup_code' ? draft.backup_codes.filter((c) => !c.used).length : null;
        return { ok: true as const, token: session.token, backupLeft };
      });
      if (!outcome.ok) {
        if (outcome.reason === 'changed') return fail(res, 401, 'Invalid username or password', { requires_totp: false });
        if (outcome.reason === 'missing') return res.json({ success: false, requires_totp: true, message: '2FA code required' });
        wrongCredential = true;
        failed(req, username, 'login', outcome.reason === 'replayed' ? 'code_reused' : 'bad_2fa_code', true);
        return fail(res, 401, SECOND_FACTOR_MESSAGES[outcome.reason], { requires_totp: true });
      }
      succeeded(req, username, 'login');
      res.json({
        success: true,
        token: outcome.token,
        message: 'Authentication successful',
        ...(outcome.backupLeft === null ? {} : { backup_codes_remaining: outcome.backupLeft }),
      });
    } finally {
      // the reservation counts as a failure until released: only a wrong credential keeps it (M2)
      if (!wrongCredential) attempt.release();
    }
  }));

  r.post('/api/auth/logout', requireAuth, json, safe(async (req, res) => {
    const id = req.identity!;
    if (id.tokenUse !== 'session' || id.jti === undefined || id.expiresAt === undefined) {
      return res.json({ success: true, message: 'Nothing to revoke: API tokens are revoked under /api/auth/api-tokens, gateway sessions at the gateway' });
    }
    const { jti, expiresAt } = id;
    await store.update((draft) => revokeJti(draft, jti, expiresAt));
    credentialEnded({ jti }); // its terminal sessions end with it (L4)
    res.json({ success: true, message: 'Logged out' });
  }));

  // ── credentials of the local account (full_admin + password, + 2FA code when on) ──────────────
  r.post('/api/auth/change-password', admin, json, safe(async (req, res) => {
    const body = bodyOf(req);
    const newPassword = text(body, 'new_password');
    const code = text(body, 'totp_code');
    const state = await confirmPassword(req, res, 'change_password', text(body, 'old_password'));
    if (!state) return;
    if (!newPassword) return fail(res, 400, 'New password is required');
    const policy = passwordPolicyProblem(newPassword, state.username);
    if (policy) return fail(res, 400, policy);
    if (state.totp_enabled && !code) return fail(res, 400, '2FA code required to change password');
    const hash = await passwords.hash(newPassword);
    const id = req.identity!;
    const outcome = await store.update(async (draft) => {
      const refused = refusal(draft, state, code);
      if (refused) return refused;
      draft.password_hash = hash;
      // every other session ends with the old password (ProxMenux kept them all)
      draft.sessions_not_before = nowSeconds();
      draft.session_generation += 1; // including those issued in this same second (L2)
      if (id.tokenUse === 'session' && id.jti && id.expiresAt) revokeJti(draft, id.jti, id.expiresAt);
      const token = id.tokenUse === 'session' ? (await issueSession(draft, draft.username!, config.session_lifetime, deps.now())).token : null;
      return { ok: true as const, token };
    });
    if (!outcome.ok) return refuse(req, res, state.username, 'change_password', outcome);
    credentialEnded({ localAccount: state.username! }); // open terminals of the old password end too (L4)
    succeeded(req, state.username, 'change_password');
    res.json({ success: true, message: 'Password changed successfully', ...(outcome.token ? { token: outcome.token } : {}) });
  }));

  r.post('/api/auth/disable', admin, json, safe(async (req, res) => {
    const body = bodyOf(req);
    const code = text(body, 'totp_code');
    const state = await confirmPassword(req, res, 'disable', text(body, 'password'));
    if (!state) return;
    if (state.totp_enabled && !code) return fail(res, 400, '2FA code required to disable authentication');
    const id = req.identity!;
    const outcome = await store.update((draft) => {
      const refused = refusal(draft, state, code);
      if (refused) return refused;
      // jwt_secret, api_tokens and both revocation lists stay (ProxMenux once wiped revocations here)
      Object.assign(draft, {
        enabled: false, configured: false, declined: false, username: null, password_hash: null,
        totp_enabled: false, totp_secret: null, last_totp_counter: null, backup_codes: [], totp_pending: null,
        sessions_not_before: nowSeconds(),
        session_generation: draft.session_generation + 1, // sessions of this second end too (L2)
      });
      if (id.tokenUse === 'session' && id.jti && id.expiresAt) revokeJti(draft, id.jti, id.expiresAt);
      setupCode.refresh(draft); // unconfigured again: a new setup code, logged (H1)
      return { ok: true as const };
    });
    if (!outcome.ok) return refuse(req, res, state.username, 'disable', outcome);
    credentialEnded({ localAccount: state.username! }); // and the terminals opened with them (L4)
    succeeded(req, state.username, 'disable');
    res.json({ success: true, message: 'Authentication disabled. Sessions have ended; API tokens keep working until revoked.' });
  }));

  r.post('/api/auth/totp/setup', admin, json, safe(async (req, res) => {
    const body = bodyOf(req);
    const code = text(body, 'totp_code') ?? text(body, 'totp_token');
    const state = await confirmPassword(req, res, 'totp_setup', text(body, 'password'));
    if (!state) return;
    // re-enrolling replaces the authenticator: only with a current code (ProxMenux needed a token only)
    if (state.totp_enabled && !code) return fail(res, 400, '2FA is already enabled: enter a current 2FA code to set it up again');
    const secret = newTotpSecret();
    const backup = generateBackupCodes();
    const outcome = await store.update((draft) => {
      const refused = refusal(draft, state, code);
      if (refused) return refused;
      // the active secret stays until the new one is confirmed by /totp/enable
      draft.totp_pending = { secret, backup_codes: backup.stored, created_at: nowSeconds() };
      return { ok: true as const };
    });
    if (!outcome.ok) return refuse(req, res, state.username, 'totp_setup', outcome);
    const qr = await qrCodeDataUrl(provisioningUri(state.username!, secret));
    res.json({
      success: true,
      secret,
      qr_code: qr,
      backup_codes: backup.codes,
      message: 'Scan the QR code with your authenticator app, then confirm with a code to enable 2FA',
    });
  }));

  r.post('/api/auth/totp/enable', admin, json, safe(async (req, res) => {
    const code = text(bodyOf(req), 'token')?.trim();
    const state = await store.read();
    if (limited(req, res, state.username, 'totp_enable')) return;
    if (!code) return fail(res, 400, 'Verification token required');
    const outcome = await store.update((draft) => {
      const pending = draft.totp_pending;
      if (!pending) return { ok: false as const, message: 'Start 2FA setup first' };
      const check = checkTotp(pending.secret, code, null, deps.now());
      if (!check.ok) return { ok: false as const, message: 'Invalid verification code. Please try again.', bad: true };
      Object.assign(draft, {
        totp_enabled: true,
        totp_secret: pending.secret,
        backup_codes: pending.backup_codes,
        // the confirming code is spent too (ProxMenux let it be used again at login)
        last_totp_counter: check.counter,
        totp_pending: null,
      });
      return { ok: true as const };
    });
    if (!outcome.ok) {
      if (outcome.bad) failed(req, state.username, 'totp_enable', 'bad_2fa_code');
      return fail(res, 400, outcome.message);
    }
    succeeded(req, state.username, 'totp_enable');
    res.json({ success: true, message: '2FA enabled successfully' });
  }));

  r.post('/api/auth/totp/disable', admin, json, safe(async (req, res) => {
    const body = bodyOf(req);
    const code = text(body, 'totp_code');
    const state = await confirmPassword(req, res, 'totp_disable', text(body, 'password'));
    if (!state) return;
    if (!state.totp_enabled) return fail(res, 400, '2FA is not enabled');
    if (!code) return fail(res, 400, '2FA code required to disable 2FA');
    const outcome = await store.update((draft) => {
      const refused = refusal(draft, state, code);
      if (refused) return refused;
      Object.assign(draft, { totp_enabled: false, totp_secret: null, last_totp_counter: null, backup_codes: [], totp_pending: null });
      return { ok: true as const };
    });
    if (!outcome.ok) return refuse(req, res, state.username, 'totp_disable', outcome);
    succeeded(req, state.username, 'totp_disable');
    res.json({ success: true, message: '2FA disabled successfully' });
  }));

  // ── API tokens ────────────────────────────────────────────────────────────────────────────────
  r.post('/api/auth/generate-api-token', admin, json, safe(async (req, res) => {
    const body = bodyOf(req);
    const scope = body.scope ?? 'read_only';
    if (scope !== 'read_only' && scope !== 'full_admin') return fail(res, 400, 'Invalid scope: use read_only or full_admin');
    const name = tokenNameRule.safeParse(body.token_name ?? 'API Token');
    if (!name.success) return fail(res, 400, 'token_name must be 1–100 printable characters');
    const days = body.expires_in_days;
    if (days !== undefined && days !== null && !(Number.isInteger(days) && (days as number) >= 1 && (days as number) <= MAX_TOKEN_DAYS)) {
      return fail(res, 400, `expires_in_days must be a whole number from 1 to ${MAX_TOKEN_DAYS}`);
    }
    const lifetime = typeof days === 'number' ? days * 86_400 : config.api_token_lifetime;
    const code = text(body, 'totp_token');
    const state = await confirmPassword(req, res, 'generate_api_token', text(body, 'password'), 401);
    if (!state) return;
    if (state.totp_enabled && !code) return res.json({ success: false, requires_totp: true, message: '2FA code required' });
    const outcome = await store.update(async (draft) => {
      const refused = refusal(draft, state, code);
      if (refused) return refused;
      const made = await issueApiToken(draft, { username: draft.username!, name: name.data, scope: scope as Scope, lifetimeSeconds: lifetime, nowMs: deps.now() });
      draft.api_tokens.push(made.entry);
      return { ok: true as const, made };
    });
    if (!outcome.ok) return refuse(req, res, state.username, 'generate_api_token', outcome, 401, { requires_totp: outcome.reason !== undefined });
    succeeded(req, state.username, 'generate_api_token');
    const { made } = outcome;
    res.json({
      success: true,
      token: made.issued.token,
      token_name: made.entry.name,
      id: made.entry.id,
      scope: made.entry.scope,
      expires_at: made.entry.expires_at,
      expires_in: `${Math.round(lifetime / 86_400)} days`,
      message: 'API token generated. Copy it now: it will not be shown again.',
    });
  }));

  r.get('/api/auth/api-tokens', requireAuth, safe(async (_req, res) => {
    const state = await store.read();
    res.json({ success: true, tokens: state.api_tokens.map((t) => describeApiToken(state, t, deps.now())) });
  }));

  r.delete('/api/auth/api-tokens/:id', admin, json, safe(async (req, res) => {
    const id = String(req.params['id'] ?? '');
    const removed = await store.update((draft) => {
      const index = draft.api_tokens.findIndex((t) => t.id === id);
      const entry = draft.api_tokens[index];
      if (entry === undefined) return null;
      if (!draft.revoked_tokens.includes(entry.token_hash)) draft.revoked_tokens.push(entry.token_hash);
      if (entry.jti) revokeJti(draft, entry.jti, Math.ceil(Date.parse(entry.expires_at) / 1000) || nowSeconds() + config.api_token_lifetime);
      draft.api_tokens.splice(index, 1);
      return entry;
    });
    if (removed === null) return fail(res, 400, 'Token not found');
    if (removed.jti) credentialEnded({ jti: removed.jti }); // terminals opened with it end too (L4)
    deps.logger.info({ token_id: removed.id, name: removed.name, by: req.identity!.username }, 'API token revoked');
    res.json({ success: true, message: 'Token revoked successfully' });
  }));

  // ── profile and avatar ────────────────────────────────────────────────────────────────────────
  r.get('/api/auth/profile', requireAuth, safe(async (req, res) => {
    const [state, avatar] = await Promise.all([store.read(), avatars.info()]);
    res.json({
      success: true,
      username: req.identity!.username,
      display_name: state.display_name,
      has_avatar: avatar !== null,
      avatar_mtime: avatar?.mtimeMs ?? null,
      avatar_content_type: avatar?.type ?? null,
    });
  }));

  r.put('/api/auth/profile', admin, json, safe(async (req, res) => {
    const value = bodyOf(req).display_name;
    if (value === undefined) return fail(res, 400, 'display_name is required');
    const parsed = displayNameRule.safeParse(value);
    if (!parsed.success) return fail(res, 400, 'display_name must be text of at most 64 characters without control characters');
    const displayName = parsed.data.trim() === '' ? null : parsed.data.trim();
    await store.update((draft) => {
      draft.display_name = displayName;
    });
    res.json({ success: true, display_name: displayName, message: 'Profile updated' });
  }));

  r.get('/api/auth/profile/avatar', requireAuth, safe(async (_req, res) => {
    const avatar = await avatars.read();
    if (!avatar) return fail(res, 404, 'No avatar set');
    res.set({ 'Content-Type': avatar.type, 'Cache-Control': 'private, max-age=60', 'X-Content-Type-Options': 'nosniff' });
    res.send(avatar.bytes);
  }));

  // raw image body only: multipart is a type a cross-site form may send without a preflight
  const rawImage = express.raw({ type: 'image/*', limit: MAX_AVATAR_BYTES });
  r.post('/api/auth/profile/avatar', admin, (req, res, next) => {
    if (req.is('image/*')) return next();
    fail(res, 415, 'Send the image as the request body with Content-Type image/png, image/jpeg, image/webp or image/gif');
  }, rawImage, safe(async (req, res) => {
    const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (bytes.length === 0) return fail(res, 400, 'The image is empty');
    const type = sniffImageType(bytes);
    if (type === null) return fail(res, 415, 'Only PNG, JPEG, WebP or GIF images are accepted');
    const info = await avatars.write(bytes, type);
    res.json({ success: true, message: 'Avatar updated', avatar_mtime: info.mtimeMs, avatar_content_type: info.type });
  }));

  r.delete('/api/auth/profile/avatar', admin, json, safe(async (_req, res) => {
    await avatars.remove();
    res.json({ success: true, message: 'Avatar removed' });
  }));

  // ── HTTPS settings (read by the monitor at its next start; nothing here restarts it) ──────────
  r.get('/api/ssl/status', requireAuth, safe(async (_req, res) => {
    let settings: SslSettings;
    let error: string | undefined;
    try {
      settings = await readSslSettings(config.data_dir);
    } catch (e) {
      if (!(e instanceof SslSettingsError)) throw e;
      settings = { ...SSL_DISABLED };
      error = e.message;
    }
    const proxmox = await findProxmoxCertificates(deps.proxmoxCertDir);
    res.json({
      success: true,
      ssl_enabled: settings.enabled,
      source: settings.source,
      cert_path: settings.cert_path,
      key_path: settings.key_path,
      proxmox_available: proxmox.available,
      proxmox_cert: proxmox.cert,
      proxmox_key: proxmox.key,
      cert_info: await certificateInfoAt(settings.cert_path),
      ...(error ? { error } : {}),
    });
  }));

  r.post('/api/ssl/validate', admin, json, safe(async (req, res) => {
    const body = bodyOf(req);
    const certPath = text(body, 'cert_path');
    const keyPath = text(body, 'key_path');
    if (!certPath || !keyPath) return fail(res, 400, 'cert_path and key_path are required');
    const check = await checkCertificatePair(certPath, keyPath);
    if (!check.ok) return fail(res, 400, check.message);
    res.json({ success: true, message: 'Certificate and key are valid', cert_info: check.info });
  }));

  r.post('/api/ssl/configure', admin, json, safe(async (req, res) => {
    const body = bodyOf(req);
    const source = body.source;
    let certPath = text(body, 'cert_path');
    let keyPath = text(body, 'key_path');
    if (source === 'proxmox') {
      const proxmox = await findProxmoxCertificates(deps.proxmoxCertDir);
      if (!proxmox.available) return fail(res, 400, `No Proxmox certificate found in ${deps.proxmoxCertDir}`);
      certPath = proxmox.cert!;
      keyPath = proxmox.key!;
    } else if (source !== 'custom') {
      return fail(res, 400, 'Invalid source: use proxmox or custom');
    }
    if (!certPath || !keyPath) return fail(res, 400, 'cert_path and key_path are required');
    const check = await checkCertificatePair(certPath, keyPath);
    if (!check.ok) return fail(res, 400, check.message);
    await writeSslSettings(config.data_dir, { enabled: true, source, cert_path: certPath, key_path: keyPath });
    deps.logger.info({ source, cert_path: certPath, by: req.identity!.username }, 'HTTPS configured; applies at the next start');
    res.json({
      success: true,
      message: 'HTTPS configured. Restart the monitor to apply it.',
      restarting: false,
      restart_required: true,
      new_protocol: 'https',
      cert_info: check.info,
    });
  }));

  r.post('/api/ssl/disable', admin, json, safe(async (req, res) => {
    await writeSslSettings(config.data_dir, { ...SSL_DISABLED });
    deps.logger.info({ by: req.identity!.username }, 'HTTPS disabled; applies at the next start');
    res.json({ success: true, message: 'HTTPS disabled. Restart the monitor to apply it.', restarting: false, restart_required: true, new_protocol: 'http' });
  }));

  // ── errors: never the exception's text ────────────────────────────────────────────────────────
  r.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    if (error instanceof AuthStoreUnavailable) return fail(res, 503, error.message);
    const e = error as { type?: unknown; status?: unknown };
    if (e.type === 'entity.too.large') {
      return fail(res, 413, req.path === '/api/auth/profile/avatar' ? 'The image is larger than 2 MB' : 'The request body is too large');
    }
    if (e.type === 'entity.parse.failed') return fail(res, 400, 'The request body is not valid JSON');
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return fail(res, e.status, 'Bad request');
    deps.logger.error({ err: error, method: req.method, path: req.path }, 'auth API error');
    fail(res, 500, 'Internal error');
  });

  return r;
}
