/**
 * The credential kinds, as a list of strategies, and where each forward-auth endpoint looks for an
 * identity (Authelia's `server.endpoints.authz.<name>.authn_strategies`). Each strategy finds its
 * credential on the request or does not; the first that finds one identifies (decide.ts). A new
 * credential kind (a bearer token) is one more strategy here and one more name in the table below.
 */
import type { IncomingMessage } from 'node:http';
import { SessionStoreUnavailable } from '../session/store.ts';
import { currentUser, type ReadSession } from '../session/reader.ts';
import { authenticationLevel } from '../session/user-session.ts';
import type { UserDetails } from '../users/provider.ts';
import { BAD_CREDENTIALS, judge, type AuthnStrategies, type AuthnStrategy, type DecideDeps, type Question, type Verdict } from './decide.ts';
import type { AuthzDialect } from './target.ts';

export type { AuthnStrategies, AuthnStrategy } from './decide.ts';

// the names are configuration (server.endpoints.authz.<name>.authn_strategies): the schema owns them
import type { AuthnStrategyName } from '../config/schema.ts';

/** `Basic <base64>`, any case; a value without a space is no Basic credential. */
function isBasic(value: string): boolean {
  const space = value.indexOf(' ');
  return space === 5 && value.slice(0, 5).toLowerCase() === 'basic';
}

/** Basic credentials in the header `read` returns: one factor, checked by the first factor's limits and bans. */
function basicIn(name: string, read: (req: IncomingMessage) => string | undefined): AuthnStrategy {
  return {
    name,
    rateLimit: 'regulation + password checks (Basic auth)',
    credential(req) {
      const value = read(req);
      // another scheme (an app's own Bearer token) is not ours: the next strategy is asked
      return value !== undefined && isBasic(value) ? value : undefined;
    },
    identify(value, q, deps) {
      const decoded = Buffer.from(value.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) return BAD_CREDENTIALS;
      const { target, ip } = q;
      return deps.firstFactor
        .verify({ username: decoded.slice(0, colon), password: decoded.slice(colon + 1), ip, method: 'basic', requestUri: target.url.href, requestMethod: target.method })
        // Basic credentials only ever prove one factor
        .then((result): Verdict => (result.ok ? judge(q, result.user, 1, deps, true) : result.busy ? { kind: 'busy', retryAfterSeconds: result.busy.retryAfterSeconds } : BAD_CREDENTIALS));
    },
  };
}

/**
 * The session's user as the backend knows them now (session/reader.ts currentUser): removed, disabled
 * or re-passworded users have no session. Immediate when the details are in memory (the common case:
 * the hot path allocates no promise), else a promise.
 */
function judgeRead(q: Question, session: ReadSession | null, deps: DecideDeps): Verdict | Promise<Verdict> {
  const data = session?.data;
  if (!data?.identity) return judge(q, null, 0, deps, false);
  const judgeCurrent = (current: UserDetails | null) => (current ? judge(q, current, authenticationLevel(data.amr), deps, false) : judge(q, null, 0, deps, false));
  const current = currentUser(data, deps.users);
  return current instanceof Promise ? current.then(judgeCurrent) : judgeCurrent(current);
}

/** The session cookie of the target's cookie domain. */
export const SESSION_COOKIE: AuthnStrategy = {
  name: 'session cookie',
  rateLimit: null,
  credential: (req) => req.headers.cookie,
  identify(cookie, q, deps) {
    const session = deps.sessionReader.read(cookie, q.domain);
    if (!(session instanceof Promise)) return judgeRead(q, session, deps);
    return session.then(
      (s) => judgeRead(q, s, deps),
      (error: unknown) => {
        // deny: the session store did not answer in time. A cookie that cannot be checked passes no rule,
        // not even bypass: log in again (401 / the portal redirect). The store's outage log reports it.
        if (error instanceof SessionStoreUnavailable) return { kind: 'login', target: q.target, domain: q.domain, basic: false };
        throw error;
      },
    );
  },
};

export const BASIC_IN_AUTHORIZATION = basicIn('Basic in Authorization', (req) => req.headers.authorization);
export const BASIC_IN_PROXY_AUTHORIZATION = basicIn('Basic in Proxy-Authorization', (req) => req.headers['proxy-authorization']);
/** Authelia's legacy /api/verify: Authorization when asked with `?auth=basic`, else Proxy-Authorization. */
const BASIC_LEGACY = basicIn('Basic in Authorization (?auth=basic) or Proxy-Authorization', (req) =>
  new URL(req.url ?? '/', 'http://x').searchParams.get('auth') === 'basic' ? req.headers.authorization : req.headers['proxy-authorization'],
);

const STRATEGIES: Readonly<Record<AuthnStrategyName, AuthnStrategy>> = {
  CookieSession: SESSION_COOKIE,
  HeaderAuthorization: BASIC_IN_AUTHORIZATION,
  HeaderProxyAuthorization: BASIC_IN_PROXY_AUTHORIZATION,
  HeaderAuthRequestProxyAuthorization: BASIC_IN_PROXY_AUTHORIZATION,
  HeaderLegacy: BASIC_LEGACY,
};

/**
 * Each strategy once, in the order given, except that the session cookie comes last: a credential
 * sent with the request is judged before the browser's session.
 */
function ordered(strategies: Iterable<AuthnStrategy>): AuthnStrategies {
  const unique = [...new Set(strategies)];
  return [...unique.filter((s) => s !== SESSION_COOKIE), ...unique.filter((s) => s === SESSION_COOKIE)];
}

/** What every endpoint reads unless server.endpoints.authz says otherwise: Proxy-Authorization, Authorization, the cookie. */
export const DEFAULT_AUTHN_STRATEGIES: AuthnStrategies = [BASIC_IN_PROXY_AUTHORIZATION, BASIC_IN_AUTHORIZATION, SESSION_COOKIE];

export function authnStrategies(names: readonly AuthnStrategyName[]): AuthnStrategies {
  return ordered(names.map((name) => STRATEGIES[name]));
}

/** Authelia's implementation names, and the dialect each is here (ExtAuthz, Envoy's, is not implemented). */
const IMPLEMENTATIONS = { ForwardAuth: 'forward-auth', AuthRequest: 'auth-request', Legacy: 'legacy' } as const satisfies Record<string, AuthzDialect>;
export type AuthzImplementation = keyof typeof IMPLEMENTATIONS | 'ExtAuthz';

/** Authelia's defaults when an endpoint lists no strategies. */
const DEFAULT_STRATEGY_NAMES: Readonly<Record<keyof typeof IMPLEMENTATIONS, readonly AuthnStrategyName[]>> = {
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
function authzEndpointPath(name: string): string {
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
  // in the order the entries list them, each once: the first that finds its credential is the one judged
  return ordered(endpoints.flatMap((endpoint) => endpoint.strategies));
}
