/** Per-domain session settings: each `session.cookies[]` entry with the global defaults filled in. */
import type { GatewayConfig } from '../config/schema.ts';
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
  portalUrl: URL;
  defaultRedirectionUrl: URL | null;
  /** Secure cookies everywhere except a plain-http loopback portal (browsers treat it as secure anyway). */
  secure: boolean;
  /** Domain attribute: omitted for localhost and IP literals, where browsers reject it. */
  cookieDomainAttribute: string | undefined;
}

export function resolveCookieDomains(config: GatewayConfig): CookieDomain[] {
  const s = config.session;
  return s.cookies.map((c) => {
    const portalUrl = new URL((c.authelia_url ?? c.portal_url)!);
    return {
      domain: c.domain,
      name: c.name ?? s.name,
      sameSite: c.same_site ?? s.same_site,
      expiration: c.expiration ?? s.expiration,
      inactivity: c.inactivity ?? s.inactivity,
      rememberMe: c.remember_me ?? s.remember_me,
      portalUrl,
      defaultRedirectionUrl: c.default_redirection_url ? new URL(c.default_redirection_url) : null,
      secure: !(portalUrl.protocol === 'http:' && isLoopbackHost(portalUrl.hostname)),
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
