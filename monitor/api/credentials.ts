/**
 * The local account's credentials: its password, switching the login off, and its second factor
 * (TOTP with backup codes), in ProxMenux's paths and shapes. Every row but /totp/enable sits behind
 * ADMIN_REAUTH (monitor/routes.ts): a full_admin caller who re-entered the password. With 2FA on, a
 * current code is checked too, inside the same store update as the change, so it is spent only if
 * the change happens.
 */
import type { RequestHandler } from 'express';
import { checkTotp, generateBackupCodes, newTotpSecret, provisioningUri, qrCodeDataUrl } from '../../lib/totp.ts';
import { reauthenticated } from '../auth/credential-check.ts';
import { noSecondFactor, TOTP_ISSUER } from '../auth/second-factor.ts';
import { issueSession, revokeJti } from '../auth/tokens.ts';
import type { AccountApiDeps } from './context.ts';
import { bodyOf, fail, text } from './json-api.ts';

export interface CredentialHandlers {
  changePassword: RequestHandler;
  disable: RequestHandler;
  totpSetup: RequestHandler;
  totpEnable: RequestHandler;
  totpDisable: RequestHandler;
}

export function createCredentialHandlers({ auth, checks, credentialEnded }: AccountApiDeps): CredentialHandlers {
  const { store, passwords, config, setupCode } = auth;
  const { limited, failed, succeeded, refusal, refuse } = checks;
  const nowSeconds = () => Math.floor(auth.now() / 1000);

  const changePassword: RequestHandler = async (req, res) => {
    const body = bodyOf(req);
    const newPassword = text(body, 'new_password');
    const code = text(body, 'totp_code');
    const state = reauthenticated(res);
    if (!newPassword) return fail(res, 400, 'New password is required');
    const policy = auth.passwordPolicy.problem(newPassword, state.username);
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
      draft.session_generation += 1; // including those issued in this same second
      if (id.tokenUse === 'session' && id.jti && id.expiresAt) revokeJti(draft, id.jti, id.expiresAt);
      const token = id.tokenUse === 'session' ? (await issueSession(draft, draft.username!, config.session_lifetime, auth.now())).token : null;
      return { ok: true as const, token };
    });
    if (!outcome.ok) return refuse(req, res, state.username, 'change_password', outcome);
    credentialEnded({ localAccount: state.username! }); // open terminals of the old password end too
    succeeded(req, state.username, 'change_password');
    res.json({ success: true, message: 'Password changed successfully', ...(outcome.token ? { token: outcome.token } : {}) });
  };

  const disable: RequestHandler = async (req, res) => {
    const code = text(bodyOf(req), 'totp_code');
    const state = reauthenticated(res);
    if (state.totp_enabled && !code) return fail(res, 400, '2FA code required to disable authentication');
    const id = req.identity!;
    const outcome = await store.update((draft) => {
      const refused = refusal(draft, state, code);
      if (refused) return refused;
      // jwt_secret, api_tokens and both revocation lists stay (ProxMenux once wiped revocations here)
      Object.assign(draft, {
        enabled: false, configured: false, declined: false, username: null, password_hash: null, ...noSecondFactor(),
        sessions_not_before: nowSeconds(),
        session_generation: draft.session_generation + 1, // sessions of this second end too
      });
      if (id.tokenUse === 'session' && id.jti && id.expiresAt) revokeJti(draft, id.jti, id.expiresAt);
      setupCode.refresh(draft); // unconfigured again: a new setup code, logged
      return { ok: true as const };
    });
    if (!outcome.ok) return refuse(req, res, state.username, 'disable', outcome);
    credentialEnded({ localAccount: state.username! }); // and the terminals opened with them
    succeeded(req, state.username, 'disable');
    res.json({ success: true, message: 'Authentication disabled. Sessions have ended; API tokens keep working until revoked.' });
  };

  const totpSetup: RequestHandler = async (req, res) => {
    const body = bodyOf(req);
    const code = text(body, 'totp_code') ?? text(body, 'totp_token');
    const state = reauthenticated(res);
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
    const qr = await qrCodeDataUrl(provisioningUri(TOTP_ISSUER, state.username!, secret));
    res.json({
      success: true,
      secret,
      qr_code: qr,
      backup_codes: backup.codes,
      message: 'Scan the QR code with your authenticator app, then confirm with a code to enable 2FA',
    });
  };

  const totpEnable: RequestHandler = async (req, res) => {
    const code = text(bodyOf(req), 'token')?.trim();
    const state = await store.read();
    if (limited(req, res, state.username, 'totp_enable')) return;
    if (!code) return fail(res, 400, 'Verification token required');
    const outcome = await store.update((draft) => {
      const pending = draft.totp_pending;
      if (!pending) return { ok: false as const, message: 'Start 2FA setup first' };
      const check = checkTotp(pending.secret, code, null, auth.now());
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
  };

  const totpDisable: RequestHandler = async (req, res) => {
    const code = text(bodyOf(req), 'totp_code');
    const state = reauthenticated(res);
    if (!state.totp_enabled) return fail(res, 400, '2FA is not enabled');
    if (!code) return fail(res, 400, '2FA code required to disable 2FA');
    const outcome = await store.update((draft) => {
      const refused = refusal(draft, state, code);
      if (refused) return refused;
      Object.assign(draft, noSecondFactor());
      return { ok: true as const };
    });
    if (!outcome.ok) return refuse(req, res, state.username, 'totp_disable', outcome);
    succeeded(req, state.username, 'totp_disable');
    res.json({ success: true, message: '2FA disabled successfully' });
  };

  return { changePassword, disable, totpSetup, totpEnable, totpDisable };
}
