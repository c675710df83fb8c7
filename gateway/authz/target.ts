/**
 * Which request the proxy is asking about, in each proxy's dialect. Forwarded headers count only from
 * a trusted proxy; from anyone else they are absent, so the question is malformed and denied.
 */
import type { IncomingMessage } from 'node:http';
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

export class BadAuthzRequest extends Error {
  readonly code = 'bad_authz_request';
}

const METHOD_RE = /^[A-Z]{1,16}$/;

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  if (Array.isArray(value)) return undefined; // repeated forwarding headers are ambiguous: refuse
  return value === undefined || value === '' ? undefined : value;
}

/** The path and query exactly as sent, before WHATWG URL parsing resolves `..` and turns `\\` into `/`. */
function rawPathOf(raw: string): string | null {
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/?#\\]*(.*)$/is.exec(raw);
  if (!match) return null;
  let rest = match[1]!;
  const hash = rest.indexOf('#');
  if (hash !== -1) rest = rest.slice(0, hash);
  if (rest === '') return '/';
  return rest.startsWith('?') ? `/${rest}` : rest;
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
  // rules see the path the upstream will route on, normalised by us, not by the URL parser
  const rawPath = rawPathOf(raw);
  const path = rawPath === null ? null : normalisePath(rawPath);
  if (path === null) throw new BadAuthzRequest('the target path is malformed');
  return { url, host: url.hostname.toLowerCase().replace(/\.$/, ''), path, method };
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
    case 'legacy':
      target = fromOriginal(req, req.method) ?? fromForwarded(req, req.method);
      if (!target) throw new BadAuthzRequest('neither X-Original-URL nor X-Forwarded-Host is present');
      return target;
  }
}

/** The embedded proxy's target: the request itself, as the gateway received it. */
export function targetFromRequest(req: IncomingMessage, scheme: 'http' | 'https', trusted: boolean): AuthzTarget {
  // behind a trusted TLS terminator the original scheme is the one it reports
  const forwardedProto = trusted ? header(req, 'x-forwarded-proto') : undefined;
  const proto = forwardedProto === 'https' || forwardedProto === 'http' ? forwardedProto : scheme;
  const host = req.headers.host;
  if (!host || /[\s/\\@?#]/.test(host)) throw new BadAuthzRequest('the Host header is missing or malformed');
  if (!req.url?.startsWith('/')) throw new BadAuthzRequest('the request target is not a path');
  const websocket = req.headers.upgrade?.toLowerCase() === 'websocket';
  return parseTarget(`${websocket ? (proto === 'https' ? 'wss' : 'ws') : proto}://${host}${req.url}`, req.method ?? 'GET');
}
