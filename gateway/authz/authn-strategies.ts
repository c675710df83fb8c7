/**
 * The credential kinds, as a list of strategies, and where each forward-auth endpoint looks for an
 * identity (Authelia's `server.endpoints.authz.<name>.authn_strategies`). Each strategy finds its
 * credential on the request or does not; the first that finds one identifies (decide.ts). A new
 * credential kind is one more strategy here. The header strategies read the schemes configured for
 * them (Authelia's `schemes`: Basic unless Bearer is listed too, so an app's own Bearer token passes
 * through an endpoint that was not told to read Bearer).
 */
import type { IncomingMessage } from 'node:http';
import { SessionStoreUnavailable } from '../session/store.ts';
import { currentUser, type ReadSession } from '../session/reader.ts';
import { authenticationLevel } from '../session/user-session.ts';
import type { UserDetails } from '../users/provider.ts';
import { BAD_CREDENTIALS, BAD_TOKEN, judge, type AuthnStrategies, type AuthnStrategy, type BearerIdentity, type DecideDeps, type Question, type Verdict } from './decide.ts';
import type { AuthzDialect } from './target.ts';

export type { AuthnStrategies, AuthnStrategy } from './decide.ts';

// the names are configuration (server.endpoints.authz.<name>.authn_strategies): the schema owns them
import type { AuthnStrategyName } from '../config/schema.ts';

/** The authorization schemes a header strategy reads (Authelia's `schemes`); Basic unless configured. */
export type AuthScheme = 'Basic' | 'Bearer';

/**
 * The scheme of an Authorization value (`Basic x`, `bearer x`: any case, one space), or undefined.
 * `Bearer` alone (its empty token trimmed on the way) is Bearer too: an endpoint that reads Bearer
 * refuses it rather than skipping it. (`Basic` alone stays no credential, as it always was.)
 */
function schemeOf(value: string): AuthScheme | undefined {
  const space = value.indexOf(' ');
  if (space === 5 && value.slice(0, 5).toLowerCase() === 'basic') return 'Basic';
  if ((space === 6 || value.length === 6) && value.slice(0, 6).toLowerCase() === 'bearer') return 'Bearer';
  return undefined;
}

/** RFC 6750 b64token, bounded: anything else is no token of ours. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const MAX_TOKEN_LENGTH = 4096;

/** Basic credentials: one factor, checked by the first factor's limits and bans. */
function identifyBasic(value: string, q: Question, deps: DecideDeps): Verdict | Promise<Verdict> {
  const decoded = Buffer.from(value.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return BAD_CREDENTIALS;
  const { target, ip } = q;
  return deps.firstFactor
    .verify({ username: decoded.slice(0, colon), password: decoded.slice(colon + 1), ip, method: 'basic', requestUri: target.url.href, requestMethod: target.method })
    // Basic credentials only ever prove one factor
    .then((result): Verdict => (result.ok ? judge(q, result.user, 1, deps, 'basic') : result.busy ? { kind: 'busy', retryAfterSeconds: result.busy.retryAfterSeconds } : BAD_CREDENTIALS));
}

/**
 * An access token of the gateway's OpenID Connect provider (oidc/bearer.ts checks it, its client's
 * audience included). A client_credentials token is the client (`oauth2:client:<id>` subjects) at one
 * factor, as in Authelia; a user's token is the user as the backend knows them now, at the factors of
 * the sign-in that granted it (at least one). Anything else, OIDC not configured included, is refused
 * with `invalid_token`: a Bearer credential an endpoint reads is never ignored.
 */
function identifyBearer(value: string, q: Question, deps: DecideDeps): Verdict | Promise<Verdict> {
  const token = value.slice(6).trim();
  // deny: no provider to check the token against, or no token at all
  if (!deps.bearer || token.length === 0 || token.length > MAX_TOKEN_LENGTH || !B64TOKEN.test(token)) return BAD_TOKEN;
  return deps.bearer.verify(token, q.target.url).then((identity: BearerIdentity | null): Verdict | Promise<Verdict> => {
    if (identity === null) return BAD_TOKEN;
    if (identity.kind === 'client') return judge(q, null, 1, deps, 'bearer', identity.clientId);
    const level = Math.max(1, authenticationLevel(identity.amr));
    // removed or disabled since the token was issued: the token speaks for no one
    return deps.users.getDetails(identity.username).then((user) => (user ? judge(q, user, level, deps, 'bearer') : BAD_TOKEN));
  });
}

/**
 * Credentials in the header `read` returns, in the schemes listed. Another scheme (an app's own Bearer
 * token where Bearer is not listed) is not this strategy's: the next one is asked.
 */
function headerIn(name: string, schemes: readonly AuthScheme[], read: (req: IncomingMessage) => string | undefined): AuthnStrategy {
  const basic = schemes.includes('Basic');
  const bearer = schemes.includes('Bearer');
  return {
    name: schemes.length === 1 ? `${schemes[0]} in ${name}` : `${schemes.join(' or ')} in ${name}`,
    rateLimit: basic ? 'regulation + password checks (Basic auth)' : bearer ? 'none: tokens are looked up (cached 10 s)' : null,
    credential(req) {
      const value = read(req);
      if (value === undefined) return undefined;
      const scheme = schemeOf(value);
      return (scheme === 'Basic' && basic) || (scheme === 'Bearer' && bearer) ? value : undefined;
    },
    identify: (value, q, deps) => (schemeOf(value) === 'Bearer' ? identifyBearer(value, q, deps) : identifyBasic(value, q, deps)),
    ...(basic ? { challengesAnonymous: true as const } : {}),
  };
}

/**
 * The session's user as the backend knows them now (session/reader.ts currentUser): removed, disabled
 * or re-passworded users have no session. Immediate when the details are in memory (the common case:
 * the hot path allocates no promise), else a promise.
 */
function judgeRead(q: Question, session: ReadSession | null, deps: DecideDeps): Verdict | Promise<Verdict> {
  const data = session?.data;
  if (!data?.identity) return judge(q, null, 0, deps, null);
  const judgeCurrent = (current: UserDetails | null) => (current ? judge(q, current, authenticationLevel(data.amr), deps, null) : judge(q, null, 0, deps, null));
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
        if (error instanceof SessionStoreUnavailable) return { kind: 'login', target: q.target, domain: q.domain, challenge: null };
        throw error;
      },
    );
  },
};

const readAuthorization = (req: IncomingMessage) => req.headers.authorization;
const readProxyAuthorization = (req: IncomingMessage) => req.headers['proxy-authorization'];

export const BASIC_IN_AUTHORIZATION = headerIn('Authorization', ['Basic'], readAuthorization);
export const BASIC_IN_PROXY_AUTHORIZATION = headerIn('Proxy-Authorization', ['Basic'], readProxyAuthorization);
/** Authelia's legacy /api/verify: Authorization when asked with `?auth=basic`, else Proxy-Authorization (Basic only, as in Authelia). */
const BASIC_LEGACY = headerIn('Authorization (?auth=basic) or Proxy-Authorization', ['Basic'], (req) => {
  const { authorization, 'proxy-authorization': proxyAuthorization } = req.headers;
  // neither header (a browser with its cookie, the common case): no credential, whatever the query says
  if (authorization === undefined && proxyAuthorization === undefined) return undefined;
  return new URL(req.url ?? '/', 'http://x').searchParams.get('auth') === 'basic' ? authorization : proxyAuthorization;
});

/** One strategy per header and set of schemes, so an endpoint listing the same one twice reads it once. */
const HEADER_STRATEGIES = new Map<string, AuthnStrategy>([
  ['Authorization:Basic', BASIC_IN_AUTHORIZATION],
  ['Proxy-Authorization:Basic', BASIC_IN_PROXY_AUTHORIZATION],
]);

function headerStrategy(header: 'Authorization' | 'Proxy-Authorization', schemes: readonly AuthScheme[]): AuthnStrategy {
  const listed = (['Basic', 'Bearer'] as const).filter((scheme) => schemes.includes(scheme));
  const key = `${header}:${listed.join(',')}`;
  let strategy = HEADER_STRATEGIES.get(key);
  if (!strategy) HEADER_STRATEGIES.set(key, (strategy = headerIn(header, listed, header === 'Authorization' ? readAuthorization : readProxyAuthorization)));
  return strategy;
}

/** One configured strategy: Authelia's name, and for the header ones the schemes they read (Basic unless listed). */
export interface StrategyConfig {
  name: AuthnStrategyName;
  schemes?: readonly AuthScheme[] | undefined;
}

function strategyFor(config: StrategyConfig): AuthnStrategy {
  // Authelia: a header strategy reads Basic unless its schemes say otherwise
  const schemes = config.schemes && config.schemes.length > 0 ? config.schemes : (['Basic'] as const);
  switch (config.name) {
    case 'CookieSession':
      return SESSION_COOKIE;
    case 'HeaderAuthorization':
      return headerStrategy('Authorization', schemes);
    case 'HeaderProxyAuthorization':
    case 'HeaderAuthRequestProxyAuthorization':
      return headerStrategy('Proxy-Authorization', schemes);
    case 'HeaderLegacy':
      return BASIC_LEGACY;
  }
}

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

export function authnStrategies(configs: readonly (AuthnStrategyName | StrategyConfig)[]): AuthnStrategies {
  return ordered(configs.map((config) => strategyFor(typeof config === 'string' ? { name: config } : config)));
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
  authz: Record<string, { implementation: AuthzImplementation; authn_strategies?: StrategyConfig[] | undefined }> | undefined,
): readonly AuthzEndpoint[] {
  if (!authz || Object.keys(authz).length === 0) return DEFAULT_AUTHZ_ENDPOINTS;
  return Object.entries(authz).flatMap(([name, endpoint]) => {
    if (endpoint.implementation === 'ExtAuthz') return []; // refused by validation
    const configs = endpoint.authn_strategies ?? DEFAULT_STRATEGY_NAMES[endpoint.implementation];
    return [{ path: authzEndpointPath(name), dialect: IMPLEMENTATIONS[endpoint.implementation], strategies: authnStrategies(configs) }];
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
