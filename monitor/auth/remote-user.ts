/**
 * Identity asserted by the gateway: `Remote-User` / `Remote-Groups` from a trusted proxy, optionally
 * backed by the gateway's short-lived signed assertion (a JWS checked against its JWKS), so that a
 * header forged inside the trusted network still fails.
 */
import type { IncomingMessage } from 'node:http';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { MonitorConfig, Scope } from '../config/schema.ts';

type RemoteUserConfig = MonitorConfig['remote_user'];
type AssertionConfig = NonNullable<RemoteUserConfig['assertion']>;

/** `Remote_User`, `REMOTE-USER` and `remote-user` are one header to us (and to some proxies and CGI). */
export function normaliseHeaderName(name: string): string {
  return name.toLowerCase().replaceAll('_', '-');
}

export interface RemoteHeaderPolicy {
  /** Header names (lower-case) a trusted proxy may set: ours, plus the gateway's Remote-Name/-Email. */
  exact: Set<string>;
  /** Normalised names of every identity header we must never take from anyone else. */
  isIdentityHeader(name: string): boolean;
}

export function remoteHeaderPolicy(config: RemoteUserConfig): RemoteHeaderPolicy {
  const configured = [config.user_header, config.groups_header, ...(config.assertion ? [config.assertion.header] : [])];
  const normalised = new Set(configured.map(normaliseHeaderName));
  return {
    exact: new Set([...configured.map((name) => name.toLowerCase()), 'remote-name', 'remote-email']),
    isIdentityHeader: (name) => {
      const n = normaliseHeaderName(name);
      return n.startsWith('remote-') || normalised.has(n);
    },
  };
}

export interface StrippedHeader {
  name: string;
  value: string;
}

/**
 * Remove identity headers from `req.headers` and `req.rawHeaders`, keeping only the exact names in
 * `keep` (what a trusted proxy sets). Returns what was removed.
 */
export function stripIdentityHeaders(req: IncomingMessage, policy: RemoteHeaderPolicy, keep: ReadonlySet<string>): StrippedHeader[] {
  const removed: StrippedHeader[] = [];
  const raw = req.rawHeaders;
  const kept: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (policy.isIdentityHeader(name) && !keep.has(name.toLowerCase())) removed.push({ name, value });
    else kept.push(name, value);
  }
  if (removed.length === 0) return removed;
  raw.splice(0, raw.length, ...kept);
  for (const key of Object.keys(req.headers)) {
    if (policy.isIdentityHeader(key) && !keep.has(key)) delete req.headers[key];
  }
  return removed;
}

/** The strongest scope any of the user's groups maps to, else the default. */
export function scopeForGroups(groups: readonly string[], config: RemoteUserConfig): Scope {
  for (const group of groups) if (config.group_scopes[group] === 'full_admin') return 'full_admin';
  for (const group of groups) if (config.group_scopes[group] === 'read_only') return 'read_only';
  return config.default_scope;
}

/** A username we can put in logs and tokens: no separators a proxy might have joined two values with. */
export function isPlausibleUsername(value: string): boolean {
  return /^[^\s,;"'<>\\\p{Cc}\p{Cf}]{1,128}$/u.test(value);
}

export function parseGroups(value: string | undefined): string[] {
  if (!value) return [];
  return value.split(',').map((g) => g.trim()).filter((g) => g !== '');
}

export type AssertionCheck =
  /** `groups`: the gateway's signed groups; they, not the Remote-Groups header, decide the scope. */
  | { ok: true; groups: string[] }
  | { ok: false; reason: 'missing_assertion' | 'invalid_assertion' | 'assertion_unverifiable'; detail: string };

export interface AssertionVerifier {
  readonly header: string;
  verify(assertion: string | undefined, user: string, nowMs: number): Promise<AssertionCheck>;
}

// The gateway signs assertions with its own assertion key (ES256, published at its /jwks.json); a
// symmetric algorithm here could be keyed with that public key, so only asymmetric ones are accepted.
const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** jose errors that mean "this assertion is bad"; anything else means we could not check it. */
const INVALID_CODES = new Set([
  'ERR_JWKS_NO_MATCHING_KEY', 'ERR_JWKS_MULTIPLE_MATCHING_KEYS', 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED', 'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_JWT_EXPIRED', 'ERR_JWS_INVALID', 'ERR_JWT_INVALID', 'ERR_JOSE_ALG_NOT_ALLOWED', 'ERR_JOSE_NOT_SUPPORTED',
]);
const CLOCK_TOLERANCE_SECONDS = 5;
/** The JWS `typ` the gateway writes: a JWT minted for another purpose with the same key is not an assertion. */
const ASSERTION_TYPE = 'gatehouse-assertion+jwt';

export function createAssertionVerifier(config: AssertionConfig, keys?: JWTVerifyGetKey): AssertionVerifier {
  const jwks = keys ?? createRemoteJWKSet(new URL(config.jwks_url), { timeoutDuration: 3000, cooldownDuration: 30_000 });
  return {
    header: config.header.toLowerCase(),
    async verify(assertion, user, nowMs) {
      if (!assertion) return { ok: false, reason: 'missing_assertion', detail: `no ${config.header} header` };
      if (assertion.length > 8192) return { ok: false, reason: 'invalid_assertion', detail: 'too long' };
      try {
        const { payload } = await jwtVerify(assertion, jwks, {
          algorithms: ASYMMETRIC_ALGORITHMS,
          typ: ASSERTION_TYPE,
          audience: config.audience,
          maxTokenAge: config.max_age,
          requiredClaims: ['sub', 'iat', 'exp'],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          currentDate: new Date(nowMs),
        });
        if (payload.sub !== user) return { ok: false, reason: 'invalid_assertion', detail: 'its subject is not the Remote-User' };
        // short-lived means short-lived: an assertion minted to last longer than max_age is refused
        if (payload.exp! - payload.iat! > config.max_age + CLOCK_TOLERANCE_SECONDS) {
          return { ok: false, reason: 'invalid_assertion', detail: `it is valid for longer than ${config.max_age}s` };
        }
        // the header beside it is unsigned: anyone holding a genuine assertion could claim other groups
        const groups = payload.groups;
        if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string')) {
          return { ok: false, reason: 'invalid_assertion', detail: 'it carries no groups claim' };
        }
        return { ok: true, groups };
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (typeof code === 'string' && INVALID_CODES.has(code)) {
          return { ok: false, reason: 'invalid_assertion', detail: (error as Error).message };
        }
        return { ok: false, reason: 'assertion_unverifiable', detail: `cannot fetch the gateway's keys (${config.jwks_url})` };
      }
    },
  };
}
