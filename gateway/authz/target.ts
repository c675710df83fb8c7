/**
 * Which request the proxy is asking about, in each proxy's dialect. Forwarded headers count only from
 * a trusted proxy; from anyone else they are absent, so the question is malformed and denied.
 */
import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../../lib/errors.ts';
import { isLoopbackHost } from '../../lib/net/address.ts';
import { normalisePath } from './path.ts';

export type AuthzDialect = 'auth-request' | 'forward-auth' | 'legacy';

export interface AuthzTarget {
  url: URL;
  /** Lower-cased, without port. */
  host: string;
  /** Normalised path plus query, as rules match it. */
  path: string;
  method: string;
}

/** The question cannot be understood exactly (the message says why, for the debug log); denied. */
export class BadAuthzRequest extends GatehouseError {
  declare readonly code: 'bad_authz_request';
  constructor(message: string) {
    super('bad_authz_request', message);
  }
}

const METHOD_RE = /^[A-Z]{1,16}$/;

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  if (Array.isArray(value)) return undefined; // repeated forwarding headers are ambiguous: refuse
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The authority and the path plus query exactly as sent, before WHATWG URL parsing rewrites them
 * (resolves `..`, turns `\\` into `/`, decodes and IDNA-maps the host). `#` is not cut off: the
 * caller refuses it, since a server or proxy may keep it in the path it acts on.
 */
const RAW_URL_RE = /^[a-z][a-z0-9+.-]*:\/\/([^/?#\\]*)(.*)$/is;
const HOST_HEADER_BAD_RE = /[\s/\\@?#]/;

/**
 * The canonical host (lower-case, no port) when the raw authority reads as exactly `url.hostname`.
 * Throws otherwise: proxies route and apps read Host on the raw text, the rules would see the rewrite
 * (`%2e`, soft hyphen, tab, full-width letters, `。`, an empty authority that takes the path's first
 * segment as host). One pass, no regex or allocation: this runs on every forward-auth request.
 */
function canonicalHostOf(authority: string, url: URL): string {
  const host = url.hostname; // always ASCII (IDNA output), lower-case
  const n = host.length;
  if (authority.length < n) throw new BadAuthzRequest('the target host is missing or not in canonical form');
  for (let i = 0; i < n; i++) {
    let c = authority.charCodeAt(i);
    // ASCII-only case folding: toLowerCase would map some non-ASCII onto ASCII (U+212A KELVIN SIGN is `k`)
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== host.charCodeAt(i)) throw new BadAuthzRequest('the target host is not in canonical form');
  }
  // after the host only `:port` (digits, possibly none)
  if (authority.length > n && authority.charCodeAt(n) !== 0x3a) throw new BadAuthzRequest('the target host is not in canonical form');
  for (let i = n + 1; i < authority.length; i++) {
    const c = authority.charCodeAt(i);
    if (c < 0x30 || c > 0x39) throw new BadAuthzRequest('the target port is not in canonical form');
  }
  // deny: `host.` is the same DNS name to the URL parser but another vhost/upstream key to proxies
  if (host.charCodeAt(n - 1) === 0x2e) throw new BadAuthzRequest('the target host ends with a dot');
  return host;
}

export function parseTarget(raw: string, method: string): AuthzTarget {
  if (!METHOD_RE.test(method)) throw new BadAuthzRequest(`method '${method.slice(0, 20)}' is not valid`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new BadAuthzRequest('the target URL does not parse');
  }
  const secure = url.protocol === 'https:' || url.protocol === 'wss:';
  const loopbackPlain = (url.protocol === 'http:' || url.protocol === 'ws:') && isLoopbackHost(url.hostname);
  if (!secure && !loopbackPlain) throw new BadAuthzRequest(`the target scheme '${url.protocol}' is not https`);
  if (url.username || url.password) throw new BadAuthzRequest('the target URL carries credentials');
  const match = RAW_URL_RE.exec(raw);
  if (!match) throw new BadAuthzRequest('the target URL is malformed');
  const host = canonicalHostOf(match[1]!, url);
  // rules see the path the upstream will route on, normalised by us, not by the URL parser.
  // deny: a raw `#` is kept in the path by some servers (Go's r.URL.Path) and forwarded by proxies,
  // so cutting the path there would judge a shorter path than the one served
  let rest = match[2]!;
  if (rest.includes('#')) throw new BadAuthzRequest('the target contains a fragment');
  if (rest === '') rest = '/';
  else if (rest.startsWith('?')) rest = `/${rest}`;
  const path = normalisePath(rest);
  if (path === null) throw new BadAuthzRequest('the target path is malformed');
  return { url, host, path, method };
}

/**
 * The canonical host of a Host header (lower-case, no port) as parseTarget would judge it, or null when
 * it is missing or would be read as another host. The embedded proxy routes on this, so the upstream
 * chosen and the rules evaluated name the same host.
 */
export function canonicalRequestHost(hostHeader: string | undefined): string | null {
  if (!hostHeader || HOST_HEADER_BAD_RE.test(hostHeader)) return null;
  try {
    return canonicalHostOf(hostHeader, new URL(`http://${hostHeader}/`));
  } catch {
    return null;
  }
}

function fromOriginal(req: IncomingMessage, fallbackMethod?: string): AuthzTarget | null {
  const url = header(req, 'x-original-url');
  if (!url) return null;
  const method = header(req, 'x-original-method') ?? fallbackMethod;
  if (!method) throw new BadAuthzRequest('X-Original-Method is missing');
  return parseTarget(url, method);
}

function fromForwarded(req: IncomingMessage, fallbackMethod?: string): AuthzTarget | null {
  const proto = header(req, 'x-forwarded-proto');
  const host = header(req, 'x-forwarded-host');
  const uri = header(req, 'x-forwarded-uri');
  const method = header(req, 'x-forwarded-method') ?? fallbackMethod;
  if (!proto && !host && !uri) return null;
  if (!proto || !host || !uri || !method) throw new BadAuthzRequest('X-Forwarded-Proto, -Host, -Uri and -Method are all required');
  if (!/^(https?|wss?)$/.test(proto)) throw new BadAuthzRequest('X-Forwarded-Proto is not a scheme');
  if (!uri.startsWith('/')) throw new BadAuthzRequest('X-Forwarded-Uri must start with /');
  if (/[\s/\\@?#]/.test(host)) throw new BadAuthzRequest('X-Forwarded-Host is not a host');
  return parseTarget(`${proto}://${host}${uri}`, method);
}

/** The target of the question, or throws BadAuthzRequest. `trusted` says whether the peer is a trusted proxy. */
export function resolveTarget(req: IncomingMessage, dialect: AuthzDialect, trusted: boolean): AuthzTarget {
  if (!trusted) throw new BadAuthzRequest('forwarded headers are only accepted from server.trusted_proxies');
  let target: AuthzTarget | null;
  switch (dialect) {
    case 'auth-request':
      target = fromOriginal(req);
      if (!target) throw new BadAuthzRequest('X-Original-URL is missing');
      return target;
    case 'forward-auth':
      target = fromForwarded(req);
      if (!target) throw new BadAuthzRequest('X-Forwarded-Host is missing');
      return target;
    case 'legacy': {
      const original = fromOriginal(req, req.method);
      const forwarded = fromForwarded(req, req.method);
      // deny: Caddy and Traefik set X-Forwarded-* but pass the client's own X-Original-URL through, so
      // with both present neither may win alone. Scheme, host, path and method must agree (the port is
      // not compared: rules do not see it, and proxies differ on whether X-Forwarded-Host carries it).
      if (original && forwarded && (original.url.protocol !== forwarded.url.protocol || original.host !== forwarded.host
        || original.path !== forwarded.path || original.method !== forwarded.method)) {
        throw new BadAuthzRequest('X-Original-URL and X-Forwarded-* name different requests');
      }
      target = original ?? forwarded;
      if (!target) throw new BadAuthzRequest('neither X-Original-URL nor X-Forwarded-Host is present');
      return target;
    }
  }
}

/** The embedded proxy's target: the request itself, as the gateway received it. */
export function targetFromRequest(req: IncomingMessage, scheme: 'http' | 'https', trusted: boolean): AuthzTarget {
  // behind a trusted TLS terminator the original scheme is the one it reports
  const forwardedProto = trusted ? header(req, 'x-forwarded-proto') : undefined;
  const proto = forwardedProto === 'https' || forwardedProto === 'http' ? forwardedProto : scheme;
  const host = req.headers.host;
  if (!host || HOST_HEADER_BAD_RE.test(host)) throw new BadAuthzRequest('the Host header is missing or malformed');
  if (!req.url?.startsWith('/')) throw new BadAuthzRequest('the request target is not a path');
  const websocket = req.headers.upgrade?.toLowerCase() === 'websocket';
  return parseTarget(`${websocket ? (proto === 'https' ? 'wss' : 'ws') : proto}://${host}${req.url}`, req.method ?? 'GET');
}
