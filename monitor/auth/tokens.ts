/**
 * What makes a bearer token acceptable beyond its signature: not revoked (by jti or, as ProxMenux
 * recorded it, by sha256), a session of the current `session_generation` and not older than the last
 * password change or disable, an API token still listed in auth.json. Also the records written when
 * a token is issued or revoked.
 */
import type { Scope } from '../config/schema.ts';
import { issueToken, secretFingerprint, tokenHash, verifyToken, type IssuedToken, type TokenClaims } from './jwt.ts';
import { hasCredentials, type AuthState, type StoredApiToken } from './store.ts';

export type TokenRefusal = 'invalid' | 'revoked' | 'superseded' | 'not_listed';

export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; reason: TokenRefusal };

export async function checkToken(state: AuthState, token: string, nowMs: number): Promise<TokenCheck> {
  const claims = await verifyToken(state.jwt_secret, token, nowMs);
  if (claims === null) return { ok: false, reason: 'invalid' };
  if (state.revoked_jtis.some((r) => r.jti === claims.jti)) return { ok: false, reason: 'revoked' };
  const hash = tokenHash(token);
  if (state.revoked_tokens.includes(hash)) return { ok: false, reason: 'revoked' };
  if (claims.token_use === 'session') {
    // a session belongs to the current login: gone with a disable, a reset or a new username
    if (!state.enabled || !hasCredentials(state) || claims.username !== state.username) return { ok: false, reason: 'superseded' };
    if (state.sessions_not_before !== null && claims.iat < state.sessions_not_before) return { ok: false, reason: 'superseded' };
    // iat has 1 s resolution: the generation also ends sessions issued in the second of a change (missing: refused)
    if (claims.session_generation !== state.session_generation) return { ok: false, reason: 'superseded' };
  } else if (!state.api_tokens.some((t) => t.jti === claims.jti && t.token_hash === hash)) {
    // deleted from the list (or never issued here): API tokens live only as long as their entry
    return { ok: false, reason: 'not_listed' };
  }
  return { ok: true, claims };
}

/** Add a token to the deny-list until it would have expired anyway. */
export function revokeJti(draft: AuthState, jti: string, expiresAtSeconds: number): void {
  if (!draft.revoked_jtis.some((r) => r.jti === jti)) draft.revoked_jtis.push({ jti, expires_at: expiresAtSeconds });
}

export function issueSession(state: AuthState, username: string, lifetimeSeconds: number, nowMs: number): Promise<IssuedToken> {
  return issueToken(state.jwt_secret, { username, scope: 'full_admin', use: 'session', lifetimeSeconds, nowMs, sessionGeneration: state.session_generation });
}

export interface NewApiToken {
  issued: IssuedToken;
  entry: StoredApiToken;
}

/** A new API token and its auth.json entry (ProxMenux's keys; the token itself is not stored). */
export async function issueApiToken(
  state: AuthState,
  o: { username: string; name: string; scope: Scope; lifetimeSeconds: number; nowMs: number },
): Promise<NewApiToken> {
  const issued = await issueToken(state.jwt_secret, { username: o.username, scope: o.scope, use: 'api_token', lifetimeSeconds: o.lifetimeSeconds, nowMs: o.nowMs });
  const hash = tokenHash(issued.token);
  const entry: StoredApiToken = {
    id: hash.slice(0, 16),
    name: o.name,
    token_hash: hash,
    token_prefix: `${issued.token.slice(0, 12)}...`,
    created_at: new Date(issued.iat * 1000).toISOString(),
    expires_at: new Date(issued.exp * 1000).toISOString(),
    scope: o.scope,
    signed_with: secretFingerprint(state.jwt_secret),
    jti: issued.jti,
    // the end of the signature: tells tokens apart in the list, and 24 bits are no help in guessing one
    token_last4: issued.token.slice(-4),
  };
  return { issued, entry };
}

/** The public view of a listed token (`GET /api/auth/api-tokens`), with why it no longer works. */
export function describeApiToken(state: AuthState, t: StoredApiToken, nowMs: number): Record<string, unknown> {
  const expired = Date.parse(t.expires_at) <= nowMs;
  const otherSecret = t.signed_with !== undefined && t.signed_with !== secretFingerprint(state.jwt_secret);
  const notOurs = t.jti === undefined; // a ProxMenux entry: its tokens lack the claims we require
  const reason = notOurs ? 'legacy_token' : otherSecret ? 'secret_changed' : expired ? 'expired' : null;
  return {
    id: t.id,
    name: t.name,
    token_prefix: t.token_prefix,
    token_last4: t.token_last4 ?? null,
    created_at: t.created_at,
    expires_at: t.expires_at,
    scope: t.scope ?? null,
    revoked: false,
    valid: reason === null,
    ...(reason === null ? {} : { invalidation_reason: reason }),
  };
}
