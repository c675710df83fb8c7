/**
 * Where the forward-auth endpoints look for an identity (Authelia's `server.endpoints.authz.<name>.
 * authn_strategies`), as a table: each strategy is a row saying which header carries Basic
 * credentials, or that the session cookie counts. An endpoint reads only what its strategies name.
 */
import type { IncomingMessage } from 'node:http';
import type { AuthzDialect } from './target.ts';

export const AUTHN_STRATEGY_NAMES = ['CookieSession', 'HeaderAuthorization', 'HeaderProxyAuthorization', 'HeaderAuthRequestProxyAuthorization', 'HeaderLegacy'] as const;
export type AuthnStrategyName = (typeof AUTHN_STRATEGY_NAMES)[number];

/** The header value a strategy reads Basic credentials from (undefined: nothing for it here). */
type CredentialHeader = (req: IncomingMessage) => string | undefined;

const authorization: CredentialHeader = (req) => req.headers.authorization;
const proxyAuthorization: CredentialHeader = (req) => req.headers['proxy-authorization'];
/** Authelia's legacy /api/verify: Authorization when asked with `?auth=basic`, else Proxy-Authorization. */
const legacy: CredentialHeader = (req) => (new URL(req.url ?? '/', 'http://x').searchParams.get('auth') === 'basic' ? req.headers.authorization : req.headers['proxy-authorization']);

const STRATEGIES: Readonly<Record<AuthnStrategyName, { header: CredentialHeader } | { cookie: true }>> = {
  CookieSession: { cookie: true },
  HeaderAuthorization: { header: authorization },
  HeaderProxyAuthorization: { header: proxyAuthorization },
  HeaderAuthRequestProxyAuthorization: { header: proxyAuthorization },
  HeaderLegacy: { header: legacy },
};

export interface AuthnStrategies {
  /** Headers that may carry Basic credentials, in order: the first one present is the one judged. */
  readonly headers: readonly CredentialHeader[];
  /** Whether the session cookie counts. */
  readonly cookie: boolean;
}

/** What every endpoint reads unless server.endpoints.authz says otherwise: Proxy-Authorization, Authorization, the cookie. */
export const DEFAULT_AUTHN_STRATEGIES: AuthnStrategies = { headers: [proxyAuthorization, authorization], cookie: true };

export function authnStrategies(names: readonly AuthnStrategyName[]): AuthnStrategies {
  const rows = names.map((name) => STRATEGIES[name]);
  return {
    headers: rows.flatMap((row) => ('header' in row ? [row.header] : [])),
    cookie: rows.some((row) => 'cookie' in row),
  };
}

/** The Basic-credentials header this request carries for these strategies, if any. */
export function credentialHeader(req: IncomingMessage, strategies: AuthnStrategies): string | undefined {
  for (const header of strategies.headers) {
    const value = header(req);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** Authelia's implementation names, and the dialect each is here (ExtAuthz, Envoy's, is not implemented). */
export const IMPLEMENTATIONS = { ForwardAuth: 'forward-auth', AuthRequest: 'auth-request', Legacy: 'legacy' } as const satisfies Record<string, AuthzDialect>;
export type AuthzImplementation = keyof typeof IMPLEMENTATIONS | 'ExtAuthz';

/** Authelia's defaults when an endpoint lists no strategies. */
export const DEFAULT_STRATEGY_NAMES: Readonly<Record<keyof typeof IMPLEMENTATIONS, readonly AuthnStrategyName[]>> = {
  ForwardAuth: ['HeaderAuthorization', 'CookieSession'],
  AuthRequest: ['HeaderAuthorization', 'CookieSession'],
  Legacy: ['HeaderLegacy', 'CookieSession'],
};

export interface AuthzEndpoint {
  path: string;
  dialect: AuthzDialect;
  strategies: AuthnStrategies;
}

/** The endpoints Gatehouse serves when server.endpoints.authz is not set: every one, with the default strategies. */
export const DEFAULT_AUTHZ_ENDPOINTS: readonly AuthzEndpoint[] = [
  { path: '/api/authz/auth-request', dialect: 'auth-request', strategies: DEFAULT_AUTHN_STRATEGIES },
  { path: '/api/authz/forward-auth', dialect: 'forward-auth', strategies: DEFAULT_AUTHN_STRATEGIES },
  { path: '/api/verify', dialect: 'legacy', strategies: DEFAULT_AUTHN_STRATEGIES },
];

/** The path Authelia serves endpoint `name` at. */
export function authzEndpointPath(name: string): string {
  return name === 'legacy' ? '/api/verify' : `/api/authz/${name}`;
}

/**
 * server.endpoints.authz as configured: only the endpoints listed are served (as in Authelia, where a
 * configured map replaces the defaults), each reading only its strategies.
 */
export function configuredAuthzEndpoints(
  authz: Record<string, { implementation: AuthzImplementation; authn_strategies?: { name: AuthnStrategyName }[] }> | undefined,
): readonly AuthzEndpoint[] {
  if (!authz || Object.keys(authz).length === 0) return DEFAULT_AUTHZ_ENDPOINTS;
  return Object.entries(authz).flatMap(([name, endpoint]) => {
    if (endpoint.implementation === 'ExtAuthz') return []; // refused by validation
    const names = endpoint.authn_strategies?.map((s) => s.name) ?? DEFAULT_STRATEGY_NAMES[endpoint.implementation];
    return [{ path: authzEndpointPath(name), dialect: IMPLEMENTATIONS[endpoint.implementation], strategies: authnStrategies(names) }];
  });
}

/**
 * What the embedded proxy reads: it is no endpoint of its own, so it honours server.endpoints.authz
 * rather than the defaults. The `forward-auth` entry when one is configured (the proxy answers as
 * forward auth does); else the union of every configured entry's strategies, so the proxy never
 * accepts a credential that no configured endpoint accepts (no entry lists a header strategy: Basic
 * is refused). Without server.endpoints.authz the endpoints are the defaults, forward-auth's included.
 */
export function embeddedProxyStrategies(endpoints: readonly AuthzEndpoint[]): AuthnStrategies {
  const forwardAuth = endpoints.find((endpoint) => endpoint.path === authzEndpointPath('forward-auth'));
  if (forwardAuth) return forwardAuth.strategies;
  // in the order the entries list them, each header once: the first one present is the one judged
  const headers = [...new Set(endpoints.flatMap((endpoint) => endpoint.strategies.headers))];
  return { headers, cookie: endpoints.some((endpoint) => endpoint.strategies.cookie) };
}
