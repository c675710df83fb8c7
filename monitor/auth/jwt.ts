/**
 * The monitor's bearer tokens: HS256 JWTs signed with the per-install `jwt_secret`. Session tokens
 * (interactive login) and API tokens differ only in `token_use` and lifetime. Every claim is required
 * on verify; there is no fallback decode of a token that fails a check (ProxMenux's was).
 */
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { z } from 'zod';
import type { Scope } from '../config/schema.ts';

export const TOKEN_ISSUER = 'gatehouse-monitor';
export const TOKEN_AUDIENCE = 'api';

export type TokenUse = 'session' | 'api_token';

const claimsSchema = z.object({
  sub: z.string().min(1),
  username: z.string().min(1),
  iat: z.number().int(),
  exp: z.number().int(),
  iss: z.literal(TOKEN_ISSUER),
  aud: z.literal(TOKEN_AUDIENCE),
  jti: z.string().min(1),
  scope: z.enum(['read_only', 'full_admin']),
  token_use: z.enum(['session', 'api_token']),
  /** Sessions: auth.json's session_generation when issued (tokens.ts refuses a session without it). */
  session_generation: z.number().int().nonnegative().optional(),
});

export type TokenClaims = z.output<typeof claimsSchema>;

export interface IssueOptions {
  username: string;
  scope: Scope;
  use: TokenUse;
  lifetimeSeconds: number;
  nowMs: number;
  /** Sessions only: the login's generation, bumped when a password change or reset must end them. */
  sessionGeneration?: number;
}

export interface IssuedToken {
  token: string;
  jti: string;
  /** Epoch seconds. */
  iat: number;
  exp: number;
}

function key(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

export async function issueToken(secret: string, o: IssueOptions): Promise<IssuedToken> {
  const iat = Math.floor(o.nowMs / 1000);
  const exp = iat + Math.max(1, Math.floor(o.lifetimeSeconds));
  const jti = randomUUID();
  const generation = o.sessionGeneration === undefined ? {} : { session_generation: o.sessionGeneration };
  const token = await new SignJWT({ username: o.username, scope: o.scope, token_use: o.use, ...generation })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(o.username)
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(key(secret));
  return { token, jti, iat, exp };
}

/** The token's claims, or null if it is not one of ours, is tampered with, expired or incomplete. */
export async function verifyToken(secret: string, token: string, nowMs: number): Promise<TokenClaims | null> {
  if (token.length > 4096) return null;
  try {
    const { payload } = await jwtVerify(token, key(secret), {
      algorithms: ['HS256'],
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      requiredClaims: ['sub', 'iat', 'exp', 'jti'],
      currentDate: new Date(nowMs),
    });
    const claims = claimsSchema.safeParse(payload);
    // sub and username name the same account; a token where they differ was not made here
    if (!claims.success || claims.data.sub !== claims.data.username) return null;
    return claims.data;
  } catch {
    return null;
  }
}

/** sha256 hex of the whole token: ProxMenux's `token_hash` and `revoked_tokens` entries. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** ProxMenux's `signed_with`: which secret signed a token, without revealing it. */
export function secretFingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 16);
}
