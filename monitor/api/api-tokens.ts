/**
 * API tokens in ProxMenux's paths and shapes: generating one (behind ADMIN_REAUTH, with a current 2FA
 * code when 2FA is on), listing them (READ) and revoking one (ADMIN). A revoked token stops working at
 * once, and so do the terminals opened with it.
 */
import type { RequestHandler } from 'express';
import type { Scope } from '../config/schema.ts';
import { reauthenticated } from '../auth/credential-check.ts';
import { describeApiToken, issueApiToken, revokeJti } from '../auth/tokens.ts';
import type { AccountApiDeps } from './context.ts';
import { bodyOf, fail, MAX_TOKEN_DAYS, text, tokenNameRule } from './json-api.ts';

export interface ApiTokenHandlers {
  generate: RequestHandler;
  list: RequestHandler;
  revoke: RequestHandler;
}

export function createApiTokenHandlers({ auth, checks, credentialEnded }: AccountApiDeps): ApiTokenHandlers {
  const { store, config } = auth;
  const { succeeded, refusal, refuse } = checks;
  const nowSeconds = () => Math.floor(auth.now() / 1000);

  const generate: RequestHandler = async (req, res) => {
    const body = bodyOf(req);
    const state = reauthenticated(res);
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
    if (state.totp_enabled && !code) return void res.json({ success: false, requires_totp: true, message: '2FA code required' });
    const outcome = await store.update(async (draft) => {
      const refused = refusal(draft, state, code);
      if (refused) return refused;
      const made = await issueApiToken(draft, { username: draft.username!, name: name.data, scope: scope as Scope, lifetimeSeconds: lifetime, nowMs: auth.now() });
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
  };

  const list: RequestHandler = async (_req, res) => {
    const state = await store.read();
    res.json({ success: true, tokens: state.api_tokens.map((t) => describeApiToken(state, t, auth.now())) });
  };

  const revoke: RequestHandler = async (req, res) => {
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
    if (removed.jti) credentialEnded({ jti: removed.jti }); // terminals opened with it end too
    auth.logger.info({ token_id: removed.id, name: removed.name, by: req.identity!.username }, 'API token revoked');
    res.json({ success: true, message: 'Token revoked successfully' });
  };

  return { generate, list, revoke };
}
