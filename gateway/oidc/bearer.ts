/**
 * Access tokens of the gateway's own OpenID Connect provider as forward-auth credentials
 * (`Authorization: Bearer …`, Authelia's "OAuth 2.0 Bearer Token Usage"). The forward-auth strategy
 * (authz/authn-strategies.ts) asks `verify`; this file is the only one that reads the provider's tokens
 * for it. A token counts only when, as in Authelia:
 * - it is an access token (authorization code or refresh grant) or a client_credentials token of this
 *   provider, neither expired nor revoked;
 * - it was granted the `authelia.bearer.authz` scope, and its client (still configured) may ask for it;
 * - the target URL is within one of its client's configured `audience` entries (`audienceCovers`).
 *
 * Successful lookups are cached briefly (keyed by a SHA-256 of the token, bounded), so a script calling
 * an app does not reach the database on every request. A token revoked here (the revocation endpoint,
 * a revoked grant) is evicted at once; one revoked by another instance sharing the database may be
 * honoured here for up to the cache time (CACHE_MS). A cached token never outlives its expiry.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { BearerIdentity, BearerVerifier } from '../authz/decide.ts';
import type { OidcClientConfig } from '../config/oidc-schema.ts';
import type { OidcRepository } from '../storage/oidc.ts';

/** The scope a token needs to be a forward-auth credential (Authelia's name). */
export const BEARER_AUTHZ_SCOPE = 'authelia.bearer.authz';


export const CACHE_MS = 10_000;
const CACHE_MAX = 10_000;

/** A token as oidc-provider's AccessToken / ClientCredentials models give it (typed loosely: no types shipped). */
interface FoundToken {
  kind: string;
  clientId?: string;
  accountId?: string;
  grantId?: string;
  scope?: string;
  exp?: number;
  extra?: { amr?: unknown };
}

interface Cached {
  identity: BearerIdentity;
  clientId: string;
  grantId: string | undefined;
  /** ms: the earlier of the cache time and the token's expiry */
  until: number;
}

/**
 * Whether `audience` (a client's configured audience) covers `target`, as Authelia's default audience
 * strategy does: an entry matches when scheme and host (with port) are the target's and its path is the
 * target's path or a parent of it at a `/` boundary. `https://app.example.test` covers every path of
 * that origin; `https://app.example.test/api` covers `/api` and `/api/…`, not `/apix`. The query is
 * ignored. An entry that is no absolute http(s) URL covers nothing.
 */
export function audienceCovers(audience: readonly string[], target: URL): boolean {
  for (const entry of audience) {
    let allowed: URL;
    try {
      allowed = new URL(entry);
    } catch {
      continue;
    }
    if (allowed.protocol !== 'http:' && allowed.protocol !== 'https:') continue;
    if (allowed.protocol !== target.protocol || allowed.host !== target.host) continue;
    const base = allowed.pathname.replace(/\/+$/, '');
    const path = target.pathname;
    if (base === '' || path === base || path.startsWith(`${base}/`)) return true;
  }
  return false;
}

const hashOf = (token: string) => createHash('sha256').update(token, 'utf8').digest('base64url');

export interface BearerVerifierDeps {
  /** oidc-provider's Provider (its AccessToken and ClientCredentials models, and its events). */
  provider: any;
  clients: ReadonlyMap<string, OidcClientConfig>;
  repo: Pick<OidcRepository, 'usernameForSubject'>;
  logger: Logger;
  now: () => number;
}

export function createBearerVerifier(deps: BearerVerifierDeps): BearerVerifier {
  const { provider, clients, repo, now } = deps;
  const cache = new Map<string, Cached>();
  const evict = (key: string) => void cache.delete(key);
  // an opaque token's value is its jti: a token destroyed here (revoked) leaves the cache at once
  const onDestroyed = (token: { jti?: string }) => {
    if (token.jti !== undefined) evict(hashOf(token.jti));
  };
  provider.on('access_token.destroyed', onDestroyed);
  provider.on('client_credentials.destroyed', onDestroyed);
  provider.on('grant.revoked', (_ctx: unknown, grantId: string) => {
    for (const [key, entry] of cache) if (entry.grantId === grantId) evict(key);
  });

  /** The token's identity, checked against everything but the target; null when it is no credential. */
  async function lookUp(token: string): Promise<{ identity: BearerIdentity; clientId: string; grantId: string | undefined; exp: number } | null> {
    let found: FoundToken | undefined = await provider.AccessToken.find(token);
    found ??= await provider.ClientCredentials.find(token);
    if (!found || (found.kind !== 'AccessToken' && found.kind !== 'ClientCredentials')) return null;
    const clientId = found.clientId;
    const client = clientId === undefined ? undefined : clients.get(clientId);
    // deny: a client no longer configured, or one not allowed the scope, has no forward-auth tokens
    if (!clientId || !client || !client.scopes.includes(BEARER_AUTHZ_SCOPE)) return null;
    if (!(found.scope ?? '').split(' ').includes(BEARER_AUTHZ_SCOPE)) return null;
    // deny: expiry is judged by the gateway's clock (oidc-provider's own check reads the wall clock)
    if (typeof found.exp !== 'number' || found.exp * 1000 <= now()) return null;
    if (found.kind === 'ClientCredentials') return { identity: { kind: 'client', clientId }, clientId, grantId: undefined, exp: found.exp };
    if (!found.accountId) return null;
    const username = await repo.usernameForSubject(found.accountId);
    if (username === undefined) return null;
    const amr = Array.isArray(found.extra?.amr) ? found.extra.amr.filter((m): m is string => typeof m === 'string') : [];
    return { identity: { kind: 'user', clientId, username, amr }, clientId, grantId: found.grantId, exp: found.exp };
  }

  return {
    async verify(token, target) {
      const key = hashOf(token);
      const at = now();
      let entry = cache.get(key);
      if (entry && entry.until <= at) {
        evict(key);
        entry = undefined;
      }
      if (!entry) {
        const looked = await lookUp(token);
        if (!looked) return null;
        entry = { identity: looked.identity, clientId: looked.clientId, grantId: looked.grantId, until: Math.min(at + CACHE_MS, looked.exp * 1000) };
        if (cache.size >= CACHE_MAX) {
          // the oldest entry goes (a Map iterates in insertion order)
          const oldest = cache.keys().next().value;
          if (oldest !== undefined) evict(oldest);
        }
        cache.set(key, entry);
      }
      // the client's audience as configured now (a restart re-reads it); the target must be in it
      const client = clients.get(entry.clientId);
      if (!client || !audienceCovers(client.audience, target)) return null;
      return entry.identity;
    },
  };
}
