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
import type { Scope } from '../config/schema.ts';
import type { MonitorAuthDeps } from '../auth/deps.ts';
import { readOnlyGuard, requireAuth, requireScope } from '../auth/identity.ts';
import { passwordPolicyProblem } from '../auth/passwords.ts';
import { AuthStoreUnavailable, hasCredentials } from '../auth/store.ts';
import { describeApiToken, issueApiToken, issueSession, revokeJti } from '../auth/tokens.ts';
import { checkTotp, consumeSecondFactor, generateBackupCodes, newTotpSecret, provisioningUri, qrCodeDataUrl, type SecondFactorCheck } from '../auth/totp.ts';
import { ROUTING } from '../request-path.ts';
import { bodyOf, fail, JSON_LIMIT, MAX_TOKEN_DAYS, MAX_USERNAME, noStore, requireJson, safe, text, tokenNameRule, usernameRule } from './json-api.ts';
import { createCredentialChecks, SECOND_FACTOR_MESSAGES } from './credential-check.ts';
import { addProfileRoutes } from './profile.ts';
import { addSslRoutes } from './ssl.ts';


/** The guards the route files under monitor/api/ share with this router. */
export interface RouteGuards {
  admin: express.RequestHandler;
  json: express.RequestHandler[];
}


/** A credential that just stopped working: app.ts closes the terminal sessions opened with it. */
export type EndedCredential = { jti: string } | { localAccount: string };

export interface AuthRouterOptions {
  onCredentialEnded?: (ended: EndedCredential) => void;
}

export function createAuthRouter(deps: MonitorAuthDeps, options: AuthRouterOptions = {}): express.Router {
  const { store, audit, rateLimiter, passwords, config, setupCode } = deps;
  const credentialEnded = (ended: EndedCredential) => options.onCredentialEnded?.(ended);
  const json = [requireJson, express.json({ limit: JSON_LIMIT, type: 'application/json' })];
  const admin = requireScope('full_admin');
  const nowSeconds = () => Math.floor(deps.now() / 1000);

  const { limited, reserve, checkPassword, failed, setupAllowed, succeeded, confirmPassword, unchanged, refusal, refuse } = createCredentialChecks(deps);

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

  addProfileRoutes(r, deps, { admin, json });
  addSslRoutes(r, deps, { admin, json });

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
