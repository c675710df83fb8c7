/** `server`: where the gateway listens, whose forwarded headers it believes, what it proxies, its authz endpoints. */
import { BlockList } from 'node:net';
import { configError, configWarning, shownValue, type ConfigProblem } from '../../../lib/config-problems.ts';
import { parseCidr, parseListenAddress } from '../../../lib/net/address.ts';
import type { GatewayConfig } from '../schema.ts';
import { DOMAIN_RE } from './domain-names.ts';

type ServerConfig = GatewayConfig['server'];

const HEADERS_TRUSTED = 'can set X-Forwarded-* headers and choose the URL and address Gatehouse sees';

/**
 * The warning for a trusted_proxies entry that trusts far more than proxies: /0, wider than /8 (IPv4)
 * or /32 (IPv6), or an IPv6 range that takes in IPv4 clients through IPv4-mapped addresses (the
 * matcher checks IPv4 clients against those too).
 */
function trustedProxyWarning(cidr: string, parsed: { address: string; prefix: number; family: 'ipv4' | 'ipv6' }): string | null {
  if (parsed.prefix === 0) return `'${cidr}' is every address: any client ${HEADERS_TRUSTED}`;
  if (parsed.family === 'ipv4' ? parsed.prefix < 8 : parsed.prefix < 32) {
    return `'${cidr}' is wider than a /${parsed.family === 'ipv4' ? 8 : 32}: every client in that range ${HEADERS_TRUSTED}; list only your proxies`;
  }
  if (parsed.family === 'ipv6') {
    const range = new BlockList();
    range.addSubnet(parsed.address, parsed.prefix, 'ipv6');
    if (range.check('0.0.0.0', 'ipv4') && range.check('255.255.255.255', 'ipv4')) {
      return `'${cidr}' covers every IPv4 address (as IPv4-mapped IPv6): any IPv4 client ${HEADERS_TRUSTED}`;
    }
    const mapped = /^::ffff:/i.test(parsed.address) && parsed.prefix >= 96 && range.check(parsed.address, 'ipv6');
    if (mapped && parsed.prefix - 96 < 8) {
      return `'${cidr}' is wider than a /8 of IPv4 (as IPv4-mapped IPv6): every client in that range ${HEADERS_TRUSTED}; list only your proxies`;
    }
  }
  return null;
}

/** server.endpoints.authz: what Gatehouse implements, and an error for anything it would not honour. */
const HEADER_STRATEGIES: readonly string[] = ['HeaderAuthorization', 'HeaderProxyAuthorization', 'HeaderAuthRequestProxyAuthorization'];

function authzEndpointProblems(server: ServerConfig, oidcConfigured: boolean): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  for (const [name, endpoint] of Object.entries(server.endpoints?.authz ?? {})) {
    const where = `server.endpoints.authz.${name}`;
    // segments joined by '/', as Authelia's docs name the nginx Basic variant `auth-request/basic`; never `..` or `//`
    if (!/^[a-z0-9][a-z0-9-]*(?:\/[a-z0-9][a-z0-9-]*)*$/.test(name)) {
      found.push(configError(where, `the endpoint name must be lower-case letters, digits and '-', in segments joined by '/' (it becomes /api/authz/${name})`));
    }
    if (endpoint.implementation === 'ExtAuthz') {
      found.push(configError(`${where}.implementation`, "'ExtAuthz' (Envoy) is not implemented by Gatehouse; use 'ForwardAuth', 'AuthRequest' or 'Legacy'"));
    }
    endpoint.authn_strategies?.forEach((strategy, i) => {
      if (strategy.schemes && strategy.schemes.length > 0 && !HEADER_STRATEGIES.includes(strategy.name)) {
        found.push(configError(`${where}.authn_strategies[${i}].schemes`, `is read only by ${HEADER_STRATEGIES.join(', ')}; ${strategy.name} has no schemes`));
      } else if (strategy.schemes?.includes('Bearer') && !oidcConfigured) {
        // deny: a Bearer token could be checked against nothing; refusing every one silently is a trap
        found.push(configError(`${where}.authn_strategies[${i}].schemes`, "lists 'Bearer', whose tokens come from identity_providers.oidc, which is not configured"));
      }
      if (strategy.scheme_basic_cache_lifespan) {
        found.push(configWarning(`${where}.authn_strategies[${i}].scheme_basic_cache_lifespan`, 'is not implemented: every Basic request is verified'));
      }
    });
  }
  return found;
}

/** `oidcConfigured`: identity_providers.oidc is set, so Bearer tokens have an issuer to be checked against. */
export function serverProblems(server: ServerConfig, oidcConfigured = false): ConfigProblem[] {
  const found = authzEndpointProblems(server, oidcConfigured);
  if (!parseListenAddress(server.address)) {
    found.push(configError('server.address', `'${shownValue(server.address)}' must look like 'tcp://127.0.0.1:9091', 'tcp://:9091' or, served under a path, 'tcp://:9091/auth'`));
  }
  server.trusted_proxies.forEach((cidr, i) => {
    const parsed = parseCidr(cidr);
    if (!parsed) found.push(configError(`server.trusted_proxies[${i}]`, `'${cidr}' is not an IP address or CIDR range`));
    else {
      const warning = trustedProxyWarning(cidr, parsed);
      if (warning !== null) found.push(configWarning(`server.trusted_proxies[${i}]`, warning));
    }
  });
  for (const [host, upstream] of Object.entries(server.upstreams)) {
    let url: URL | null = null;
    try {
      url = new URL(upstream);
    } catch {
      /* reported below */
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      found.push(configError(`server.upstreams.${host}`, `'${shownValue(upstream)}' must be an http:// or https:// URL`));
    }
    if (host !== 'default' && !DOMAIN_RE.test(host)) {
      found.push(configError(`server.upstreams.${host}`, "the key must be a lower-case host name or 'default'"));
    }
  }
  return found;
}
