/**
 * The identity assertion: a short-lived ES256 JWS saying "the gateway vouches that this request is from
 * <user> in <groups>", sent beside Remote-User so an app (the monitor) can tell the gateway's header
 * from one forged by anything else on the trusted network. The public key is published at /jwks.json.
 *
 * Signing costs far more than the rest of a forward-auth decision, so an assertion is reused for a
 * quarter of its lifetime for the same user and groups; the app only requires it to be fresh.
 */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { loadOrCreateKey } from '../../lib/key-file.ts';
import type { SessionIdentity } from '../session/user-session.ts';

export const ASSERTION_HEADER = 'Remote-Assertion';
const CACHE_MAX_ENTRIES = 10_000;

export interface AssertionOptions {
  /** Target host → the audience that app checks; other hosts get no assertion. */
  audiences: Record<string, string>;
  /** Seconds. */
  lifespan: number;
  issuer: string;
  now: () => number;
}

export interface AssertionIssuer {
  /** The JWS for this identity at this target host (cached), or '' when anonymous or the host gets none. */
  assertionFor(identity: SessionIdentity | null, host: string): Promise<string>;
  /** Synchronous when cached (or when the host gets none): keeps the hot path synchronous for a repeat visitor. */
  cachedAssertionFor(identity: SessionIdentity, host: string): string | undefined;
  jwks: { keys: JWK[] };
}

/** The signing key from `path`, created there (0600) on first use. */
export async function loadOrCreateAssertionKey(path: string): Promise<KeyObject> {
  return (await loadOrCreateKey(path, () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'identity_assertion.key_path')).key;
}

export async function createAssertionIssuer(privateKey: KeyObject, options: AssertionOptions): Promise<AssertionIssuer> {
  // jose is loaded only when identity_assertion is configured (forward auth imports this file for its header name)
  const { calculateJwkThumbprint, exportJWK, SignJWT } = await import('jose');
  const publicJwk = await exportJWK(privateKey);
  delete publicJwk.d;
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwk: JWK = { ...publicJwk, kid, alg: 'ES256', use: 'sig' };
  const cache = new Map<string, { jws: string; renewAt: number }>();
  const reuseMs = (options.lifespan * 1000) / 4;

  const audiences = new Map(Object.entries(options.audiences).map(([host, audience]) => [host.toLowerCase(), audience]));
  const keyFor = (identity: SessionIdentity, audience: string) =>
    createHash('sha256').update(JSON.stringify([audience, identity.username, identity.groups, identity.displayName, identity.emails[0] ?? ''])).digest('base64url');

  const cachedAssertionFor = (identity: SessionIdentity, host: string) => {
    const audience = audiences.get(host);
    if (audience === undefined) return '';
    const hit = cache.get(keyFor(identity, audience));
    return hit && hit.renewAt > options.now() ? hit.jws : undefined;
  };

  return {
    jwks: { keys: [jwk] },
    cachedAssertionFor,
    async assertionFor(identity, host) {
      if (!identity) return '';
      const audience = audiences.get(host);
      if (audience === undefined) return ''; // this app was not named in identity_assertion.audiences
      const cached = cachedAssertionFor(identity, host);
      if (cached) return cached;
      const now = options.now();
      const iat = Math.floor(now / 1000);
      const jws = await new SignJWT({
        groups: identity.groups,
        name: identity.displayName,
        email: identity.emails[0] ?? '',
      })
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'gatehouse-assertion+jwt' })
        .setIssuer(options.issuer)
        .setSubject(identity.username)
        .setAudience(audience)
        .setIssuedAt(iat)
        .setExpirationTime(iat + options.lifespan)
        .sign(privateKey);
      if (cache.size >= CACHE_MAX_ENTRIES) cache.clear();
      cache.set(keyFor(identity, audience), { jws, renewAt: now + reuseMs });
      return jws;
    },
  };
}
