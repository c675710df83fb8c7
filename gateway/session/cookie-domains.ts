/** Per-domain session settings: each `session.cookies[]` entry with the global defaults filled in. */
import type { GatewayConfig } from '../config/schema.ts';
import { InternalError } from '../../lib/errors.ts';
import { isLoopbackHost } from '../../lib/net/address.ts';

export interface CookieDomain {
  domain: string;
  name: string;
  sameSite: 'lax' | 'strict' | 'none';
  /** Seconds. */
  expiration: number;
  inactivity: number;
  /** Seconds, or -1 when "keep me logged in" is disabled. */
  rememberMe: number;
  /**
   * Where the portal is served for this domain (`authelia_url`). Null for the cookie a legacy
   * `session.domain` makes: as in Authelia before 4.38, each portal request's own URL is the portal's
   * (portalDomainOf), and a proxy asking /api/verify names it in `rd`.
   */
  portalUrl: URL | null;
  defaultRedirectionUrl: URL | null;
  /** Secure cookies everywhere except a plain-http loopback portal (browsers treat it as secure anyway). */
  secure: boolean;
  /** Domain attribute: omitted for localhost and IP literals, where browsers reject it. */
  cookieDomainAttribute: string | undefined;
}

/** A cookie domain as one portal request sees it: its portal URL is known (configured, or the request's own). */
export type PortalCookieDomain = CookieDomain & { portalUrl: URL };

export function resolveCookieDomains(config: GatewayConfig): CookieDomain[] {
  const s = config.session;
  return s.cookies.map((c) => {
    const configured = c.authelia_url ?? c.portal_url;
    const portalUrl = configured === undefined ? null : new URL(configured);
    return {
      domain: c.domain,
      name: c.name ?? s.name,
      sameSite: c.same_site ?? s.same_site,
      expiration: c.expiration ?? s.expiration,
      inactivity: c.inactivity ?? s.inactivity,
      rememberMe: c.remember_me ?? s.remember_me,
      portalUrl,
      defaultRedirectionUrl: c.default_redirection_url ? new URL(c.default_redirection_url) : null,
      secure: portalUrl ? !(portalUrl.protocol === 'http:' && isLoopbackHost(portalUrl.hostname)) : !isLoopbackHost(c.domain),
      cookieDomainAttribute: c.domain === 'localhost' || /^[\d.]+$/.test(c.domain) ? undefined : c.domain,
    };
  });
}

/** The cookie domain a host belongs to (exact or below it), or null: such a host is never authorised. */
export function cookieDomainFor(host: string, domains: readonly CookieDomain[]): CookieDomain | null {
  for (const d of domains) {
    if (host === d.domain || (host.length > d.domain.length && host.endsWith(d.domain) && host[host.length - d.domain.length - 1] === '.')) {
      return d;
    }
  }
  return null;
}

/** A portal URL's path without its trailing slash (`/auth/` → `/auth`, `/` → ''): what `isUnderPortalPath` takes. */
export function portalBasePath(portal: URL): string {
  return portal.pathname.replace(/\/+$/, '');
}

/** Whether `pathname` is the portal's path or below it (`/auth` holds `/auth/settings`, never `/auth-admin`). */
export function isUnderPortalPath(pathname: string, base: string): boolean {
  return pathname === base || pathname.startsWith(`${base}/`);
}

/** What a portal request says of itself, as Express reads it, and whether its peer is a trusted proxy. */
export interface PortalRequest {
  /** The Host (X-Forwarded-Host from a trusted proxy) without its port. */
  hostname: string | undefined;
  /** The same with its port. */
  host: string | undefined;
  /** `http` or `https` (X-Forwarded-Proto from a trusted proxy). */
  protocol: string;
  fromTrustedProxy: boolean;
  /** Where the portal is mounted on the request's host (server.address's path, or '' at the root). */
  basePath?: string;
}

/**
 * The cookie domain of a portal request, with its portal URL; or why it has none. A configured portal
 * URL is the domain's, whichever of its hosts asked. A legacy cookie's portal is the request's own
 * origin, read only from a trusted proxy's X-Forwarded-Proto and -Host (as Authelia before 4.38 did):
 * any other peer could name any host under the domain, and reset links would carry its choice.
 */
export function portalDomainOf(req: PortalRequest, domains: readonly CookieDomain[]): { domain: PortalCookieDomain } | { refused: 'foreign-host' | 'unknown-portal' } {
  const hostname = req.hostname?.toLowerCase();
  const domain = hostname ? cookieDomainFor(hostname, domains) : null;
  if (!domain) return { refused: 'foreign-host' };
  if (domain.portalUrl) return { domain: domain as PortalCookieDomain };
  // deny: without a trusted proxy's word, or over plain http off loopback, the portal's URL is not known
  if (!req.fromTrustedProxy || !(req.protocol === 'https' || (req.protocol === 'http' && isLoopbackHost(hostname!)))) return { refused: 'unknown-portal' };
  let url: URL;
  try {
    url = new URL(`${req.protocol}://${req.host}${req.basePath ?? ''}/`);
  } catch {
    return { refused: 'unknown-portal' };
  }
  // deny: a host the URL parser reads otherwise (credentials, another name) is not the one judged above
  if (url.hostname !== hostname || url.username || url.password || url.search || url.hash || url.pathname !== `${req.basePath ?? ''}/`) return { refused: 'unknown-portal' };
  return { domain: { ...domain, portalUrl: url } };
}

/** The configured portal of the first cookie domain, for what has one URL for all (an issuer); validation ensures it. */
export function configuredPortal(domains: readonly CookieDomain[]): URL {
  const portal = domains[0]?.portalUrl;
  if (!portal) throw new InternalError('internal_error', 'no session.cookies[].authelia_url: validation should have refused this configuration');
  return portal;
}
