/**
 * Cross-field checks of a parsed configuration. Every message names its section and option, as the
 * operator will read it: `config: <path>: <what is wrong and what is allowed>`.
 */
import { BlockList } from 'node:net';
import { validateAccessControl } from '../authz/rules.ts';
import { isLoopbackHost, parseCidr, parseListenAddress } from '../../lib/net/address.ts';
import { NOT_YET_SUPPORTED, type CookieConfig, type GatewayConfig } from './schema.ts';

import { valueAt, type ValidationResult } from '../../lib/config-loader.ts';
import { GENERATE_SECRET, weakSecretProblem, weakSecretReason } from '../../lib/secret-strength.ts';

/** Secrets Gatehouse itself keys things with: Authelia's minimum length (20), and no placeholder or pattern. */
export const OWN_SECRETS = ['session.secret', 'storage.encryption_key'] as const;
const OWN_SECRET_MIN_LENGTH = 20;

function ownSecretProblem(option: (typeof OWN_SECRETS)[number], value: string): string | null {
  const reason = weakSecretReason(value, OWN_SECRET_MIN_LENGTH);
  return reason === null ? null : weakSecretProblem(option, reason, `GATEHOUSE_${option.replace('.', '_').toUpperCase()}`);
}

const DOMAIN_RE = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** The cookie domain `url` belongs to, if its host is that domain or below it. */
export function hostWithinDomain(host: string, domain: string): boolean {
  const h = host.toLowerCase();
  return h === domain || h.endsWith(`.${domain}`);
}

function checkSiteUrl(value: string, where: string, domain: string, problems: string[]): URL | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`config: ${where}: '${value}' is not an absolute URL (like https://auth.${domain}/)`);
    return null;
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    problems.push(`config: ${where}: '${value}' must use https (plain http is accepted only for localhost)`);
  }
  if (url.username || url.password || url.search || url.hash) {
    problems.push(`config: ${where}: '${value}' must not carry credentials, a query or a fragment`);
  }
  if (!hostWithinDomain(url.hostname, domain)) {
    problems.push(`config: ${where}: the host '${url.hostname}' is not '${domain}' or below it, so the session cookie would not reach it`);
  }
  return url;
}

function checkCookie(cookie: CookieConfig, index: number, problems: string[], warnings: string[]): void {
  const where = `session.cookies[${index}]`;
  const domain = cookie.domain;
  if (domain !== domain.toLowerCase()) problems.push(`config: ${where}.domain: '${domain}' must be lower-case`);
  else if (domain.startsWith('.') || domain.includes('*')) {
    problems.push(`config: ${where}.domain: '${domain}' must be a plain domain without a leading dot or wildcard (it already covers every subdomain)`);
  } else if (domain.includes(':') || domain.includes('/')) {
    problems.push(`config: ${where}.domain: '${domain}' must be a domain name only, without scheme, port or path`);
  } else if (!DOMAIN_RE.test(domain) || (!domain.includes('.') && domain !== 'localhost')) {
    problems.push(`config: ${where}.domain: '${domain}' is not a valid cookie domain (a name with at least one dot, or localhost)`);
  }
  if (cookie.authelia_url && cookie.portal_url && cookie.authelia_url !== cookie.portal_url) {
    problems.push(`config: ${where}: 'authelia_url' and 'portal_url' are the same option; set only one`);
  }
  const portal = cookie.authelia_url ?? cookie.portal_url;
  if (!portal) {
    problems.push(`config: ${where}.authelia_url: is required: the URL of the Gatehouse portal for '${domain}' (for example https://auth.${domain}/)`);
    return;
  }
  const portalUrl = checkSiteUrl(portal, `${where}.authelia_url`, domain, problems);
  if (cookie.default_redirection_url !== undefined) {
    const target = checkSiteUrl(cookie.default_redirection_url, `${where}.default_redirection_url`, domain, problems);
    if (target && portalUrl && target.href === portalUrl.href) {
      problems.push(`config: ${where}.default_redirection_url: must differ from authelia_url, or users would land on the portal again`);
    }
  }
  if (cookie.same_site === 'none') warnings.push(`${where}.same_site is 'none': the session cookie is sent on cross-site requests`);
  if (cookie.remember_me === -1) warnings.push(`${where}.remember_me is -1: "keep me logged in" is disabled for this domain`);
  if (cookie.inactivity === 0) warnings.push(`${where}.inactivity is 0: sessions for this domain never end for inactivity, only at expiration`);
}

const HEADERS_TRUSTED = 'can set X-Forwarded-* headers and choose the URL and address Gatehouse sees';

/**
 * A warning when a trusted_proxies entry trusts far more than proxies: /0, wider than /8 (IPv4) or
 * /32 (IPv6), or an IPv6 range that takes in IPv4 clients through IPv4-mapped addresses (the
 * matcher checks IPv4 clients against those too).
 */
function trustedProxyWarning(cidr: string, parsed: { address: string; prefix: number; family: 'ipv4' | 'ipv6' }): string | null {
  if (parsed.prefix === 0) return `server.trusted_proxies contains '${cidr}': any client ${HEADERS_TRUSTED}`;
  if (parsed.family === 'ipv4' ? parsed.prefix < 8 : parsed.prefix < 32) {
    return `server.trusted_proxies contains '${cidr}', wider than a /${parsed.family === 'ipv4' ? 8 : 32}: every client in that range ${HEADERS_TRUSTED}; list only your proxies`;
  }
  if (parsed.family === 'ipv6') {
    const range = new BlockList();
    range.addSubnet(parsed.address, parsed.prefix, 'ipv6');
    if (range.check('0.0.0.0', 'ipv4') && range.check('255.255.255.255', 'ipv4')) {
      return `server.trusted_proxies contains '${cidr}', which covers every IPv4 address (as IPv4-mapped IPv6): any IPv4 client ${HEADERS_TRUSTED}`;
    }
    const mapped = /^::ffff:/i.test(parsed.address) && parsed.prefix >= 96 && range.check(parsed.address, 'ipv6');
    if (mapped && parsed.prefix - 96 < 8) {
      return `server.trusted_proxies contains '${cidr}', wider than a /8 of IPv4 (as IPv4-mapped IPv6): every client in that range ${HEADERS_TRUSTED}; list only your proxies`;
    }
  }
  return null;
}

function isSet(config: unknown, path: string): boolean {
  return valueAt(config, path.split('.')) !== undefined;
}

const enabled = (section: unknown) => typeof section === 'object' && section !== null && (section as { enabled?: unknown }).enabled === true;

/**
 * Authelia options Gatehouse does not implement yet whose effect would be to refuse more than Gatehouse
 * does. Ignoring one would leave things more open than the operator asked, so each is an error.
 */
const NOT_YET_SUPPORTED_NARROWING: readonly { path: string; applies: (value: unknown) => boolean; effect: string }[] = [
  { path: 'server.endpoints.rate_limits', applies: () => true, effect: 'it limits how often a client may try' },
  { path: 'authentication_backend.ldap', applies: () => true, effect: 'its filters and groups decide who may log in' },
  {
    path: 'password_policy',
    applies: (value) => enabled((value as { standard?: unknown })?.standard) || enabled((value as { zxcvbn?: unknown })?.zxcvbn),
    effect: 'it refuses weak new passwords',
  },
];

/** server.endpoints.authz: what Gatehouse implements, and an error for anything it would not honour. */
function checkAuthzEndpoints(config: GatewayConfig, problems: string[], warnings: string[]): void {
  for (const [name, endpoint] of Object.entries(config.server.endpoints?.authz ?? {})) {
    const where = `server.endpoints.authz.${name}`;
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) problems.push(`config: ${where}: the endpoint name must be lower-case letters, digits and '-' (it becomes /api/authz/${name})`);
    if (endpoint.implementation === 'ExtAuthz') {
      problems.push(`config: ${where}.implementation: 'ExtAuthz' (Envoy) is not implemented by Gatehouse; use 'ForwardAuth', 'AuthRequest' or 'Legacy'`);
    }
    endpoint.authn_strategies?.forEach((strategy, i) => {
      if (strategy.schemes?.includes('Bearer')) {
        problems.push(`config: ${where}.authn_strategies[${i}].schemes: Gatehouse reads only 'Basic' credentials; 'Bearer' is not implemented`);
      }
      if (strategy.scheme_basic_cache_lifespan) {
        warnings.push(`${where}.authn_strategies[${i}].scheme_basic_cache_lifespan is not implemented: every Basic request is verified`);
      }
    });
  }
}

export function validateGatewayConfig(config: GatewayConfig): ValidationResult {
  const problems: string[] = [];
  const warnings: string[] = [];

  for (const path of NOT_YET_SUPPORTED) {
    if (isSet(config, path)) warnings.push(`${path} is an Authelia option Gatehouse does not implement yet; it is ignored`);
  }
  for (const { path, applies, effect } of NOT_YET_SUPPORTED_NARROWING) {
    const value = valueAt(config, path.split('.'));
    if (value === undefined) continue;
    if (applies(value)) {
      problems.push(`config: ${path}: is an Authelia option Gatehouse does not implement yet, and ${effect}: ignoring it would leave Gatehouse more open than configured, so it is refused; remove it to start without it`);
    } else {
      warnings.push(`${path} is an Authelia option Gatehouse does not implement yet; it is ignored`);
    }
  }
  checkAuthzEndpoints(config, problems, warnings);

  // server
  if (!parseListenAddress(config.server.address)) {
    problems.push(`config: server.address: '${config.server.address}' must look like 'tcp://127.0.0.1:9091' or 'tcp://:9091'`);
  }
  config.server.trusted_proxies.forEach((cidr, i) => {
    const parsed = parseCidr(cidr);
    if (!parsed) problems.push(`config: server.trusted_proxies[${i}]: '${cidr}' is not an IP address or CIDR range`);
    else {
      const warning = trustedProxyWarning(cidr, parsed);
      if (warning !== null) warnings.push(warning);
    }
  });
  for (const [host, upstream] of Object.entries(config.server.upstreams)) {
    let url: URL | null = null;
    try {
      url = new URL(upstream);
    } catch {
      /* reported below */
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      problems.push(`config: server.upstreams.${host}: '${upstream}' must be an http:// or https:// URL`);
    }
    if (host !== 'default' && !DOMAIN_RE.test(host)) {
      problems.push(`config: server.upstreams.${host}: the key must be a lower-case host name or 'default'`);
    }
  }

  // authentication backend
  const file = config.authentication_backend.file;
  if (!file) {
    problems.push(`config: authentication_backend.file: is required: set authentication_backend.file.path to a users file (created if missing)`);
  } else {
    const a = file.password.argon2;
    if (a.memory < 65536 || a.iterations < 3) {
      warnings.push(`authentication_backend.file.password.argon2 is weaker than the default (memory ${a.memory} KiB, iterations ${a.iterations}; default 65536 KiB, 3)`);
    }
    if (!file.watch) {
      warnings.push(
        'authentication_backend.file.watch is false: edits to the users file apply only after a restart or SIGHUP; until then disabled and deleted users keep their access',
      );
    }
  }
  // refresh_interval: no warning, whatever it says: with the users file, a reload (the watcher,
  // SIGHUP) drops the cached details at once, so changes to the file apply as soon as they are loaded

  // session
  const session = config.session;
  if (session.cookies.length === 0) {
    problems.push(`config: session.cookies: is required: add at least one entry with 'domain' and 'authelia_url'`);
  }
  const seen = new Map<string, number>();
  session.cookies.forEach((cookie, i) => {
    checkCookie(cookie, i, problems, warnings);
    const previous = seen.get(cookie.domain);
    if (previous !== undefined) problems.push(`config: session.cookies[${i}].domain: '${cookie.domain}' is already configured by session.cookies[${previous}]`);
    seen.set(cookie.domain, i);
  });
  const domains = [...new Set(session.cookies.map((c) => c.domain))];
  for (const [i, a] of domains.entries()) {
    for (const b of domains.slice(i + 1)) {
      if (hostWithinDomain(a, b) || hostWithinDomain(b, a)) {
        problems.push(`config: session.cookies: '${a}' and '${b}' overlap; a host must belong to exactly one cookie domain`);
      }
    }
  }
  const secretProblem = session.secret === undefined ? null : ownSecretProblem('session.secret', session.secret);
  if (secretProblem !== null) problems.push(secretProblem);
  if (session.redis) {
    if (!session.secret) problems.push(`config: session.secret: is required when session.redis is set, so that every instance can read the sessions`);
    if (session.redis.tls?.skip_verify) warnings.push(`session.redis.tls.skip_verify is true: the Redis server's certificate is not checked`);
  }
  if (session.same_site === 'none') warnings.push(`session.same_site is 'none': the session cookie is sent on cross-site requests`);
  if (session.inactivity === 0 && (session.cookies.length === 0 || session.cookies.some((c) => c.inactivity === undefined))) {
    warnings.push('session.inactivity is 0: sessions never end for inactivity, only at session.expiration');
  }
  if (session.inactivity > session.expiration) {
    warnings.push(`session.inactivity (${session.inactivity}s) is longer than session.expiration (${session.expiration}s), so it never applies`);
  }

  // regulation
  const r = config.regulation;
  if (r.max_retries === 0) warnings.push('regulation.max_retries is 0: brute-force protection is disabled');
  else if (r.find_time > r.ban_time) {
    problems.push(`config: regulation.find_time: must be less than or equal to regulation.ban_time (${r.find_time}s > ${r.ban_time}s)`);
  }

  // storage
  const storage = config.storage;
  if (!storage.encryption_key) {
    problems.push(`config: storage.encryption_key: is required: a random string of at least 20 characters that encrypts secrets at rest; generate one with: ${GENERATE_SECRET}`);
  } else {
    const keyProblem = ownSecretProblem('storage.encryption_key', storage.encryption_key);
    if (keyProblem !== null) problems.push(keyProblem);
  }
  if (storage.local && storage.postgres) problems.push(`config: storage: set one of 'local' and 'postgres', not both`);
  if (!storage.local && !storage.postgres) problems.push(`config: storage: is required: set storage.local.path (SQLite) or storage.postgres`);

  // notifier
  if (config.notifier && config.notifier.filesystem && config.notifier.smtp) {
    problems.push(`config: notifier: set one of 'filesystem' and 'smtp', not both`);
  }
  if (config.notifier?.smtp?.disable_require_tls) warnings.push('notifier.smtp.disable_require_tls is true: mail may be sent in clear text');

  // telemetry
  const metricsCfg = config.telemetry.metrics;
  if (metricsCfg.enabled) {
    const listen = parseListenAddress(metricsCfg.address);
    if (!listen) problems.push(`config: telemetry.metrics.address: '${metricsCfg.address}' must look like 'tcp://127.0.0.1:9959'`);
    else if (!['127.0.0.1', '::1', 'localhost'].includes(listen.host)) {
      warnings.push(`telemetry.metrics.address listens on ${listen.host}: anyone who can reach it can read the gateway's metrics`);
    }
  }

  // identity assertion
  const assertion = config.identity_assertion;
  if (assertion) {
    if (Object.keys(assertion.audiences).length === 0) {
      problems.push(`config: identity_assertion.audiences: name at least one app host and the audience it checks (e.g. monitor.example.com: monitor)`);
    }
    for (const host of Object.keys(assertion.audiences)) {
      if (!DOMAIN_RE.test(host)) problems.push(`config: identity_assertion.audiences.${host}: the key must be a lower-case host name`);
    }
  }
  if (assertion && (assertion.lifespan < 10 || assertion.lifespan > 300)) {
    problems.push(`config: identity_assertion.lifespan: must be between 10s and 5m (${assertion.lifespan}s); a longer-lived assertion can be replayed longer`);
  }

  // access control
  problems.push(...validateAccessControl(config.access_control).map((p) => `config: ${p}`));
  if (config.access_control.default_policy === 'bypass') {
    warnings.push(`access_control.default_policy is 'bypass': every host no rule matches is open to anyone`);
  }
  return { problems, warnings };
}
