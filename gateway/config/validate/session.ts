/** `session`: one cookie domain per entry, each with its portal; the secret; Redis; the timeouts. */
import { configError, configWarning, shownValue, type ConfigProblem } from '../../../lib/config-problems.ts';
import { isLoopbackHost } from '../../../lib/net/address.ts';
import type { CookieConfig, GatewayConfig, SessionConfig } from '../schema.ts';
import { DOMAIN_RE, hostWithinDomain } from './domain-names.ts';
import { ownSecretProblem } from './own-secrets.ts';
import { tlsClientProblems } from './tls-client.ts';

/** A URL the portal is served at or users land on: absolute, https (but on loopback), within the cookie domain. */
function siteUrlProblems(value: string, where: string, domain: string, found: ConfigProblem[]): URL | null {
  const shown = shownValue(value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    found.push(configError(where, `'${shown}' is not an absolute URL (like https://auth.${domain}/)`));
    return null;
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    found.push(configError(where, `'${shown}' must use https (plain http is accepted only for localhost)`));
  }
  if (url.username || url.password || url.search || url.hash) {
    found.push(configError(where, `'${shown}' must not carry credentials, a query or a fragment`));
  }
  if (!hostWithinDomain(url.hostname, domain)) {
    found.push(configError(where, `the host '${url.hostname}' is not '${domain}' or below it, so the session cookie would not reach it`));
  }
  return url;
}

/**
 * A Redis host is a name or an address, or with port 0 a socket's path. A URL there (`redis://:pw@host`)
 * would put a password where every connection error repeats it; so it is refused, and not repeated here.
 */
function redisHostProblem(where: string, host: string, socketPath: boolean, useInstead: string): ConfigProblem | null {
  if (!host.includes('://') && !host.includes('@') && (socketPath || !host.includes('/'))) return null;
  return configError(where, `must be a host name or address only; ${useInstead} (the value is not repeated: it may hold a password)`);
}

function redisProblems(redis: NonNullable<SessionConfig['redis']>): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  const ha = redis.high_availability;
  if (redis.host === undefined) {
    if (!ha) found.push(configError('session.redis.host', 'is required: the Redis server (or, with Redis Sentinel, set session.redis.high_availability with its nodes)'));
    else if (ha.nodes.length === 0) found.push(configError('session.redis.high_availability.nodes', 'is required when session.redis.host is not set: list the Sentinels (host and port) Gatehouse asks for the master'));
  } else {
    const host = redisHostProblem(
      'session.redis.host',
      redis.host,
      redis.port === 0 && !ha,
      'set the port, username and password in session.redis.port, .username and .password',
    );
    if (host !== null) found.push(host);
  }
  ha?.nodes.forEach((node, i) => {
    const problem = redisHostProblem(
      `session.redis.high_availability.nodes[${i}].host`,
      node.host,
      false,
      "set the port in the node's port, and the username and password in session.redis.high_availability.sentinel_username and .sentinel_password",
    );
    if (problem !== null) found.push(problem);
  });
  if (redis.max_retries !== undefined) {
    found.push(configWarning('session.redis.max_retries', 'has no effect: Gatehouse never retries a failed Redis command (forward auth denies and the portal answers 503 at once, instead of waiting several command timeouts); it reconnects on its own'));
  }
  for (const key of ['route_by_latency', 'route_randomly'] as const) {
    if (ha?.[key]) found.push(configWarning(`session.redis.high_availability.${key}`, 'has no effect: Gatehouse reads and writes sessions only on the master, so a replica that lags never serves a session that was ended'));
  }
  return found;
}

function cookieProblems(cookie: CookieConfig, index: number): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  const where = `session.cookies[${index}]`;
  const domain = cookie.domain;
  if (domain !== domain.toLowerCase()) found.push(configError(`${where}.domain`, `'${domain}' must be lower-case`));
  else if (domain.startsWith('.') || domain.includes('*')) {
    found.push(configError(`${where}.domain`, `'${domain}' must be a plain domain without a leading dot or wildcard (it already covers every subdomain)`));
  } else if (domain.includes(':') || domain.includes('/')) {
    found.push(configError(`${where}.domain`, `'${domain}' must be a domain name only, without scheme, port or path`));
  } else if (!DOMAIN_RE.test(domain) || (!domain.includes('.') && domain !== 'localhost')) {
    found.push(configError(`${where}.domain`, `'${domain}' is not a valid cookie domain (a name with at least one dot, or localhost)`));
  }
  if (cookie.authelia_url && cookie.portal_url && cookie.authelia_url !== cookie.portal_url) {
    found.push(configError(where, "'authelia_url' and 'portal_url' are the same option; set only one"));
  }
  const portal = cookie.authelia_url ?? cookie.portal_url;
  if (!portal && cookie.legacy) {
    // Authelia's Legacy cookie: no portal URL; each portal request's own (from a trusted proxy) is used
    found.push(configWarning('session.domain', `has no portal URL: Gatehouse takes the portal's URL from each request (X-Forwarded-Proto and X-Forwarded-Host, from a proxy in server.trusted_proxies) and from the proxy's rd or authelia_url parameter, as Authelia before 4.38 did; moving to session.cookies with authelia_url (for example https://auth.${domain}/) is recommended`));
  } else if (!portal) {
    found.push(configError(`${where}.authelia_url`, `is required: the URL of the Gatehouse portal for '${domain}' (for example https://auth.${domain}/)`));
    return found;
  }
  const portalUrl = portal ? siteUrlProblems(portal, `${where}.authelia_url`, domain, found) : null;
  if (cookie.default_redirection_url !== undefined) {
    const target = siteUrlProblems(cookie.default_redirection_url, `${where}.default_redirection_url`, domain, found);
    if (target && portalUrl && target.href === portalUrl.href) {
      found.push(configError(`${where}.default_redirection_url`, 'must differ from authelia_url, or users would land on the portal again'));
    }
  }
  if (cookie.same_site === 'none') found.push(configWarning(`${where}.same_site`, "is 'none': the session cookie is sent on cross-site requests"));
  if (cookie.remember_me === -1) found.push(configWarning(`${where}.remember_me`, 'is -1: "keep me logged in" is disabled for this domain'));
  if (cookie.inactivity === 0) found.push(configWarning(`${where}.inactivity`, 'is 0: sessions for this domain never end for inactivity, only at expiration'));
  return found;
}

export function sessionProblems(session: SessionConfig): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  if (session.cookies.length === 0) {
    found.push(configError('session.cookies', "is required: add at least one entry with 'domain' and 'authelia_url'"));
  }
  const seen = new Map<string, number>();
  session.cookies.forEach((cookie, i) => {
    found.push(...cookieProblems(cookie, i));
    const previous = seen.get(cookie.domain);
    if (previous !== undefined) found.push(configError(`session.cookies[${i}].domain`, `'${cookie.domain}' is already configured by session.cookies[${previous}]`));
    seen.set(cookie.domain, i);
  });
  const domains = [...new Set(session.cookies.map((c) => c.domain))];
  for (const [i, a] of domains.entries()) {
    for (const b of domains.slice(i + 1)) {
      if (hostWithinDomain(a, b) || hostWithinDomain(b, a)) {
        found.push(configError('session.cookies', `'${a}' and '${b}' overlap; a host must belong to exactly one cookie domain`));
      }
    }
  }
  const secretProblem = session.secret === undefined ? null : ownSecretProblem('session.secret', session.secret);
  if (secretProblem !== null) found.push(secretProblem);
  if (session.redis) {
    found.push(...redisProblems(session.redis));
    if (!session.secret) found.push(configError('session.secret', 'is required when session.redis is set, so that every instance can read the sessions'));
    found.push(...tlsClientProblems('session.redis.tls', session.redis.tls, 'the Redis server'));
  }
  if (session.same_site === 'none') found.push(configWarning('session.same_site', "is 'none': the session cookie is sent on cross-site requests"));
  if (session.inactivity === 0 && (session.cookies.length === 0 || session.cookies.some((c) => c.inactivity === undefined))) {
    found.push(configWarning('session.inactivity', 'is 0: sessions never end for inactivity, only at session.expiration'));
  }
  if (session.inactivity > session.expiration) {
    found.push(configWarning('session.inactivity', `(${session.inactivity}s) is longer than session.expiration (${session.expiration}s), so it never applies`));
  }
  return found;
}

/**
 * What needs one portal URL for every request, known before any request: the OpenID Connect issuer and
 * the identity assertion's issuer (refused with a legacy session.domain cookie, which has none), and the
 * embedded proxy's login redirect (a warning: it answers 401 instead).
 */
export function portalUrlRequiredProblems(config: Pick<GatewayConfig, 'session' | 'identity_providers' | 'identity_assertion' | 'server'>): ConfigProblem[] {
  const first = config.session.cookies[0];
  if (!first?.legacy || first.authelia_url || first.portal_url) return [];
  const found: ConfigProblem[] = [];
  const advice = `needs the portal's URL, which the deprecated session.domain does not give; replace session.domain with session.cookies: [{ domain: '${first.domain}', authelia_url: 'https://auth.${first.domain}/' }]`;
  if (config.identity_providers?.oidc !== undefined) found.push(configError('identity_providers.oidc', `${advice} (the issuer is the portal's URL)`));
  if (config.identity_assertion !== undefined) found.push(configError('identity_assertion', `${advice} (the assertion's issuer is the portal's origin)`));
  // no portal to send a browser to: the embedded proxy answers 401 where it would redirect
  if (Object.keys(config.server.upstreams).length > 0) {
    found.push(configWarning('server.upstreams', "the embedded proxy cannot send a visitor who must sign in to the portal: the deprecated session.domain gives no portal URL, so they get 401; set session.cookies[].authelia_url"));
  }
  return found;
}
