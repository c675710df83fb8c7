/**
 * The local account's life, in ProxMenux Monitor's paths and shapes (`success`, `message`, `error` for
 * setup, `requires_totp`, `token`): its status, the first run (setup, skip, decline), login and
 * logout. Who may call each is the route table's business (monitor/routes.ts): setup, skip and
 * decline sit behind SETUP_CODE, which also takes their rate limit and audits a wrong code.
 */
import type { RequestHandler } from 'express';
import { consumeSecondFactor, noSecondFactor, type SecondFactorCheck } from '../auth/second-factor.ts';
import { SECOND_FACTOR_MESSAGES, setupProven } from '../auth/credential-check.ts';
import { hasCredentials, type AuthState } from '../auth/store.ts';
import { issueSession, revokeJti } from '../auth/tokens.ts';
import type { AccountApiDeps } from './context.ts';
import { bodyOf, fail, MAX_USERNAME, text, usernameRule } from './json-api.ts';

export interface AccountHandlers {
  status: RequestHandler;
  setup: RequestHandler;
  skip: RequestHandler;
  decline: RequestHandler;
  login: RequestHandler;
  logout: RequestHandler;
}

/** The update found the monitor unconfigured, and the SETUP_CODE guard saw no proof the caller may set it up. */
const UNPROVEN = Symbol('setup not proven');

/** Setup over what is there would replace a login; after "decline" only a full_admin caller may add one. */
function setupRefused(state: AuthState, callerIsAdmin: boolean): boolean {
  return hasCredentials(state) || state.enabled || (state.configured && !callerIsAdmin);
}

export function createAccountHandlers({ auth, checks, credentialEnded }: AccountApiDeps): AccountHandlers {
  const { store, passwords, config, setupCode } = auth;
  // the portal's URL with a trailing slash, so `settings` and `logout` resolve under it
  const gatewayPortal = config.remote_user.portal_url?.replace(/\/?$/, '/');
  const { reserve, checkPassword, failed, refuseSetup, succeeded, unchanged } = checks;
  const nowSeconds = () => Math.floor(auth.now() / 1000);

  const status: RequestHandler = async (req, res) => {
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
      // where a gateway user signs out and manages their password and second factors
      gateway_portal: id?.via === 'remote_user' ? (gatewayPortal ?? null) : null,
    });
  };

  const setup: RequestHandler = async (req, res) => {
    const setupFail = (status: number, message: string) => void res.status(status).json({ success: false, error: message, message });
    const body = bodyOf(req);
    const username = text(body, 'username')?.trim();
    const password = text(body, 'password');
    const callerIsAdmin = req.identity?.scope === 'full_admin';
    const current = await store.read();
    if (setupRefused(current, callerIsAdmin)) {
      failed(req, username ?? null, 'setup', 'already_configured');
      return setupFail(400, 'Authentication is already configured');
    }
    if (!username || !password) return setupFail(400, 'Username and password are required');
    if (!usernameRule.safeParse(username).success) {
      return setupFail(400, `Username must be 1–${MAX_USERNAME} characters: letters, digits, . _ @ -`);
    }
    const policy = auth.passwordPolicy.problem(password, username);
    if (policy) return setupFail(400, policy);
    const hash = await passwords.hash(password);
    const token = await store.update(async (draft) => {
      if (setupRefused(draft, callerIsAdmin)) return null;
      // unconfigured now, though it may not have been when the guard looked: the code is needed after all
      if (!draft.configured && !setupProven(res)) return UNPROVEN;
      Object.assign(draft, {
        enabled: true, configured: true, declined: false, username, password_hash: hash, ...noSecondFactor(),
        // sessions of an earlier account with the same name (before a disable) stay void
        sessions_not_before: nowSeconds(),
        // and so do those issued in that same second: the generation changes too
        session_generation: draft.session_generation + 1,
      });
      setupCode.refresh(draft); // spent: single use
      return (await issueSession(draft, username, config.session_lifetime, auth.now())).token;
    });
    if (token === null) {
      failed(req, username, 'setup', 'already_configured');
      return setupFail(400, 'Authentication is already configured');
    }
    if (token === UNPROVEN) return refuseSetup(req, res, 'setup');
    succeeded(req, username, 'setup');
    res.json({ success: true, token, message: 'Authentication configured successfully' });
  };

  const decline = (path: 'skip' | 'decline'): RequestHandler => async (req, res) => {
    const declined = await store.update((draft) => {
      if (draft.configured) return false;
      if (!setupProven(res)) return UNPROVEN;
      Object.assign(draft, { enabled: false, declined: true, configured: true, username: null, password_hash: null, ...noSecondFactor() });
      setupCode.refresh(draft); // spent: single use
      return true;
    });
    if (declined === UNPROVEN) return refuseSetup(req, res, path);
    if (!declined) return fail(res, 403, `Authentication is already configured; cannot ${path}.`);
    res.json({ success: true, message: 'Authentication declined', ...(path === 'skip' ? { auth_declined: true } : {}) });
  };

  const login: RequestHandler = async (req, res) => {
    const body = bodyOf(req);
    const username = text(body, 'username')?.trim() ?? '';
    const password = text(body, 'password') ?? '';
    const code = text(body, 'totp_token');
    // counted before the slow password check so parallel guesses cannot all pass the limit
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
      if (state.totp_enabled && !code) return void res.json({ success: false, requires_totp: true, message: '2FA code required' });
      const upgraded = check.upgrade ? await passwords.hash(password) : null;
      const outcome = await store.update(async (draft) => {
        if (!unchanged(draft, state) || !draft.enabled) return { ok: false as const, reason: 'changed' as const };
        let second: SecondFactorCheck | null = null;
        if (draft.totp_enabled) {
          second = consumeSecondFactor(draft, code, auth.now());
          if (!second.ok) return { ok: false as const, reason: second.reason };
        }
        // a ProxMenux pbkdf2 (or any non-argon2id) hash is replaced now that we know the password
        if (upgraded) draft.password_hash = upgraded;
        const session = await issueSession(draft, username, config.session_lifetime, auth.now());
        const backupLeft = second?.ok && second.method === 'backup_code' ? draft.backup_codes.filter((c) => !c.used).length : null;
        return { ok: true as const, token: session.token, backupLeft };
      });
      if (!outcome.ok) {
        if (outcome.reason === 'changed') return fail(res, 401, 'Invalid username or password', { requires_totp: false });
        if (outcome.reason === 'missing') return void res.json({ success: false, requires_totp: true, message: '2FA code required' });
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
      // the reservation counts as a failure until released: only a wrong credential keeps it
      if (!wrongCredential) attempt.release();
    }
  };

  const logout: RequestHandler = async (req, res) => {
    const id = req.identity!;
    if (id.tokenUse !== 'session' || id.jti === undefined || id.expiresAt === undefined) {
      return void res.json({ success: true, message: 'Nothing to revoke: API tokens are revoked under /api/auth/api-tokens, gateway sessions at the gateway' });
    }
    const { jti, expiresAt } = id;
    await store.update((draft) => revokeJti(draft, jti, expiresAt));
    credentialEnded({ jti }); // the terminals opened with this session end with it
    res.json({ success: true, message: 'Logged out' });
  };

  return { status, setup, skip: decline('skip'), decline: decline('decline'), login, logout };
}
