/**
 * Safe redirects: after login (and on `rd=`), a target is followed only when it is an absolute https
 * URL (or plain http on a loopback host) whose host is a configured cookie domain or below it.
 * Everything else goes to the default URL: an open redirect on the login page is a phishing tool.
 */
import { domainToASCII } from 'node:url';
import { isLoopbackHost } from '../../lib/net/address.ts';

const MAX_REDIRECT_LENGTH = 8192;

// scheme, then exactly `//`: refuses `https:x`, `https:/x`, `//x`, `/\x` and every other scheme
const ABSOLUTE_HTTP = /^https?:\/\/[^/\\]/i;
// an authority with `@` (userinfo) or `%` (percent-decoded into the host by WHATWG) is never ours
const AUTHORITY = /^https?:\/\/([^/?#]*)/i;
// encoded C0 controls and DEL (%09, %0A, %0D, %00 …) split headers or logs wherever they are decoded
const ENCODED_CONTROL = /%(?:[01][0-9a-f]|7f)/i;

function normaliseCookieDomain(domain: string): string {
  const d = domain.trim().toLowerCase().replace(/^\./, '');
  return /^[\x00-\x7f]*$/.test(d) ? d : domainToASCII(d);
}

function isIpLiteral(host: string): boolean {
  return host.startsWith('[') || /^\d{1,3}(?:\.\d{1,3}){3}$/.test(host);
}

/** The parsed target when it is safe to redirect to, else null. */
export function isSafeRedirect(target: string, cookieDomains: string[]): URL | null {
  if (typeof target !== 'string' || target.length > MAX_REDIRECT_LENGTH) return null;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    // deny: WHATWG URL silently strips tabs/newlines and trims spaces, so what we check would not be
    // what the browser follows; `\` is read as `/` by browsers (`https://evil\@example.com`)
    if (c <= 0x20 || c === 0x7f || c === 0x5c) return null;
  }
  if (!ABSOLUTE_HTTP.test(target) || ENCODED_CONTROL.test(target)) return null;
  const authority = AUTHORITY.exec(target)?.[1] ?? '';
  if (authority.includes('@') || authority.includes('%')) return null;

  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return null;
  }
  if (url.username !== '' || url.password !== '') return null;

  const host = url.hostname; // lower-case, IDNs in punycode, IPv4 in dotted decimal
  if (host === '' || host.endsWith('.')) return null;
  if (url.protocol === 'http:') {
    // deny: plain http only where browsers treat it as a secure context
    if (!isLoopbackHost(host)) return null;
  } else if (url.protocol !== 'https:') {
    return null;
  }

  for (const raw of cookieDomains) {
    const domain = normaliseCookieDomain(raw);
    if (domain === '') continue;
    const bare = host.startsWith('[') ? host.slice(1, -1) : host;
    if (bare === domain || host === domain) return url;
    // dot boundary: `evilexample.com` is not below `example.com`; nothing is below an IP address
    if (!isIpLiteral(host) && host.length > domain.length + 1 && host.endsWith(domain)
      && host.charCodeAt(host.length - domain.length - 1) === 0x2e) {
      return url;
    }
  }
  // deny: the target host is outside every cookie domain
  return null;
}
