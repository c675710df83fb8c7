/**
 * The embedded reverse proxy: Gatehouse in front of an app without nginx/Traefik/Caddy. Every request
 * and WebSocket upgrade gets the same access-control decision as forward auth, identity headers the
 * client sent are removed, and the ones Gatehouse vouches for are added.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createProxyMiddleware, type RequestHandler } from 'http-proxy-middleware';
import { isWebSocketUpgrade } from '../../lib/http-server.ts';
import { normaliseIp } from '../../lib/net/address.ts';
import { clientIp } from '../../lib/net/client-ip.ts';
import type { AuthnStrategies } from '../authz/authn-strategies.ts';
import { decide, escapeHtml, headerValue, portalRedirect, wantsRedirect, type AuthzDeps, type Verdict } from '../authz/forward-auth.ts';
import { BadAuthzRequest, targetFromRequest, type AuthzTarget } from '../authz/target.ts';
import { RETRY_AFTER_S, unavailableMessage } from '../backend-unavailable.ts';

/** `remote-user`, `Remote_User`, `REMOTE-GROUPS`…: any header an upstream could read as our identity. */
export function isIdentityHeader(name: string): boolean {
  return name.toLowerCase().replace(/_/g, '-').startsWith('remote-');
}

export function stripIdentityHeaders(req: IncomingMessage): void {
  for (const name of Object.keys(req.headers)) if (isIdentityHeader(name)) delete req.headers[name];
  // rawHeaders is what some upstream code inspects; keep it consistent with headers
  for (let i = req.rawHeaders.length - 2; i >= 0; i -= 2) {
    if (isIdentityHeader(req.rawHeaders[i]!)) req.rawHeaders.splice(i, 2);
  }
}

/** RFC 9110 §7.6.1 and the older ones proxies still meet: meant for one hop, never forwarded. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

/** Headers a client may not name in Connection: dropping them would change the message itself. */
const FRAMING_HEADERS = new Set(['host', 'content-length']);

/** Names a client listed in Connection (and Proxy-Connection), lower-cased. */
function connectionOptions(req: IncomingMessage): string[] {
  return [req.headers.connection, req.headers['proxy-connection']]
    .flatMap((value) => (Array.isArray(value) ? value : [value ?? '']))
    .flatMap((value) => value.split(','))
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== '');
}

/**
 * Removes every hop-by-hop header and every header the client named in Connection, so that nothing
 * the client chose can make a later hop drop a header Gatehouse sets (`Connection: Remote-User`).
 * The message keeps its own framing, and a WebSocket upgrade its upgrade, written afresh by Gatehouse.
 * Returns false when the client named a header that can't be dropped (the request is refused).
 */
export function stripHopByHopHeaders(req: IncomingMessage, websocket: boolean): boolean {
  const named = connectionOptions(req);
  if (named.some((name) => FRAMING_HEADERS.has(name))) return false;
  const chunked = req.headers['transfer-encoding'] !== undefined;
  const drop = new Set([...HOP_BY_HOP, ...named]);
  for (const name of Object.keys(req.headers)) if (drop.has(name)) delete req.headers[name];
  for (let i = req.rawHeaders.length - 2; i >= 0; i -= 2) {
    if (drop.has(req.rawHeaders[i]!.toLowerCase())) req.rawHeaders.splice(i, 2);
  }
  // the body was de-chunked on the way in: the next hop gets it chunked again, by us
  if (chunked) req.headers['transfer-encoding'] = 'chunked';
  if (websocket) {
    req.headers.connection = 'Upgrade';
    req.headers.upgrade = 'websocket';
  }
  return true;
}

/** Forwarding headers the client may have written; the app gets Gatehouse's own values instead. */
const FORWARDING_HEADERS = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded', 'x-real-ip'];

const isBasic = (value: string | undefined) => value !== undefined && /^basic(\s|$)/i.test(value);

/** A Cookie header without the named cookies ('' when nothing is left). */
export function withoutCookies(header: string, names: ReadonlySet<string>): string {
  return header
    .split(';')
    .filter((pair) => !names.has(pair.slice(0, pair.indexOf('=') === -1 ? undefined : pair.indexOf('=')).trim()))
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '')
    .join('; ');
}

export interface EmbeddedProxy {
  /** Whether a canonical host (see canonicalRequestHost) is proxied: its own upstream or `default`. */
  proxies(host: string): boolean;
  /** `host` is the request's canonical host, computed once by the caller; routing and rules both use it. */
  handle(req: IncomingMessage, res: ServerResponse, host: string): void;
  upgrade(req: IncomingMessage, socket: Socket, head: Buffer, host: string): void;
}

/**
 * `strategies`: where the proxy looks for an identity, from server.endpoints.authz (see
 * embeddedProxyStrategies): the operator's narrowing of the authz endpoints holds here too.
 */
export function createEmbeddedProxy(upstreams: Record<string, string>, scheme: 'http' | 'https', deps: AuthzDeps, strategies: AuthnStrategies): EmbeddedProxy {
  const sessionCookieNames = new Set(deps.cookieDomains.map((d) => d.name));
  const handlers = new Map<string, RequestHandler>();
  for (const [host, target] of Object.entries(upstreams)) {
    handlers.set(
      host.toLowerCase(),
      createProxyMiddleware({
        target,
        changeOrigin: false,
        // the library would keep (append to) the client's X-Forwarded-*; authorise() writes ours
        xfwd: false,
        ws: false, // upgrades are routed by `upgrade` below, after the decision
        on: {
          // the client's socket and the upstream's live and die together: when the gateway ends a
          // WebSocket (shutdown, a client gone), the app's connection ends too instead of lingering
          proxyReqWs: (proxyReq, _req, socket) => {
            socket.once('close', () => proxyReq.destroy());
            proxyReq.once('upgrade', (_res, upstream: Socket) => {
              if (socket.destroyed) upstream.destroy();
              else socket.once('close', () => upstream.destroy());
            });
          },
          error: (error, _req, res) => {
            deps.logger.warn({ err: error.message, upstream: target }, 'proxy: upstream unreachable');
            if ('writeHead' in res && !res.headersSent) {
              res.writeHead(502, { 'Content-Type': 'text/plain; charset=utf-8' });
              res.end('502 Bad Gateway: the application behind Gatehouse did not answer.');
            } else if ('destroy' in res) res.destroy();
          },
        },
      }),
    );
  }
  const handlerFor = (host: string) => handlers.get(host) ?? handlers.get('default') ?? null;

  async function authorise(req: IncomingMessage, host: string, websocket: boolean): Promise<Verdict> {
    stripIdentityHeaders(req);
    let target: AuthzTarget | undefined;
    const verdict = await decide(req, (trusted) => {
      target = targetFromRequest(req, scheme, trusted);
      // deny: the rules must judge the very host the upstream was chosen by
      if (target.host !== host) throw new BadAuthzRequest(`the target host '${target.host}' is not the routed host '${host}'`);
      return target;
    }, deps, strategies);
    if (verdict.kind === 'allow' && target) {
      // what the decision read, taken before anything is removed: a trusted proxy's X-Forwarded-For
      // named in its Connection was meant for this hop, and this hop judged by it
      const ip = clientIp(normaliseIp(req.socket.remoteAddress ?? ''), req.headers['x-forwarded-for'], deps.isTrustedProxy);
      const hostHeader = req.headers.host!; // targetFromRequest refused a missing one
      // Basic credentials in either header may be the gateway password the decision just checked (which
      // header it read depends on the strategies): the app never sees them; an app's own Bearer stays
      if (isBasic(req.headers['proxy-authorization'])) delete req.headers['proxy-authorization'];
      if (isBasic(req.headers.authorization)) delete req.headers.authorization;
      // hop-by-hop headers (Proxy-Authorization too) and every header the client named in Connection end
      // here, right after the decision and BEFORE Gatehouse writes any header of its own: naming
      // X-Forwarded-For or Remote-User in Connection removes the client's copy, never Gatehouse's
      if (!stripHopByHopHeaders(req, websocket)) return { kind: 'bad-request', reason: 'the Connection header names Host or Content-Length' };
      // the app trusts these for links, rate limits and logs: Gatehouse's values, never the client's
      for (const name of FORWARDING_HEADERS) delete req.headers[name];
      req.headers['x-forwarded-for'] = ip;
      req.headers['x-forwarded-proto'] = target.url.protocol === 'https:' || target.url.protocol === 'wss:' ? 'https' : 'http';
      req.headers['x-forwarded-host'] = hostHeader;
      const id = verdict.identity;
      const headers: Record<string, string> = {
        'remote-user': headerValue(id?.username),
        'remote-groups': headerValue(id?.groups.join(',')),
        'remote-name': headerValue(id?.displayName),
        'remote-email': headerValue(id?.emails[0]),
      };
      if (deps.assertions && id) headers['remote-assertion'] = await deps.assertions.assertionFor(id, host);
      for (const [name, value] of Object.entries(headers)) if (value) req.headers[name.toLowerCase()] = value;
      // the session cookie is a bearer credential for every app in the domain: the app never sees it
      const cookie = req.headers.cookie;
      if (cookie) {
        const kept = withoutCookies(cookie, sessionCookieNames);
        if (kept) req.headers.cookie = kept;
        else delete req.headers.cookie;
      }
    }
    return verdict;
  }

  function refuse(req: IncomingMessage, res: ServerResponse, verdict: Exclude<Verdict, { kind: 'allow' }>): void {
    const plain = (status: number, text: string, extra: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...extra });
      res.end(text);
    };
    switch (verdict.kind) {
      case 'forbidden':
        return plain(403, '403 Forbidden: your account is not allowed here.');
      case 'bad-credentials':
        return plain(401, '401 Unauthorized', { 'WWW-Authenticate': 'Basic realm="Authorization Required"' });
      case 'busy':
        return plain(429, '429 Too Many Requests: too many sign-in attempts are being checked; try again shortly.', { 'Retry-After': String(verdict.retryAfterSeconds) });
      case 'bad-request':
        return plain(400, '400 Bad Request');
      case 'login': {
        if (verdict.basic || !wantsRedirect(req)) return plain(401, '401 Unauthorized');
        const location = portalRedirect(verdict.domain.portalUrl, verdict.target);
        const safe = ['GET', 'HEAD', 'OPTIONS'].includes(verdict.target.method);
        res.writeHead(safe ? 302 : 303, { Location: location, 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(`<a href="${escapeHtml(location)}">Sign in</a>`);
      }
    }
  }

  return {
    proxies(host) {
      return handlerFor(host) !== null;
    },
    handle(req, res, host) {
      const handler = handlerFor(host);
      if (!handler) return void res.writeHead(404).end();
      authorise(req, host, false)
        .then((verdict) => (verdict.kind === 'allow' ? handler(req, res) : refuse(req, res, verdict)))
        .catch((error: Error) => {
          // deny: whatever failed, the request does not reach the app
          const unavailable = unavailableMessage(error);
          // a backend that did not answer is reported once per outage by its outage log, not per request
          if (unavailable === null) deps.logger.error({ err: error.message }, 'proxy: error while deciding; denied');
          if (res.headersSent) res.destroy();
          else if (unavailable !== null) {
            res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'Retry-After': String(RETRY_AFTER_S) });
            res.end(`503 Service Unavailable: ${unavailable}`);
          } else res.writeHead(500, { 'Content-Type': 'text/plain' }).end('500 Internal Server Error');
        });
    },
    upgrade(req, socket, head, host) {
      const handler = handlerFor(host);
      if (!handler) return void socket.destroy();
      // serve() hands over WebSocket handshakes only (any other upgrade is a plain request); should
      // another ever come here, it gets an answer: the proxy library would drop the socket silently
      if (!isWebSocketUpgrade(req)) return void socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      authorise(req, host, true)
        .then((verdict) => {
          if (verdict.kind === 'allow') return handler.upgrade(req, socket, head);
          const status = verdict.kind === 'forbidden' ? '403 Forbidden' : verdict.kind === 'bad-request' ? '400 Bad Request' : '401 Unauthorized';
          socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        })
        .catch((error: Error) => {
          if (unavailableMessage(error) === null) {
            deps.logger.error({ err: error.message }, 'proxy: error while deciding a WebSocket upgrade; denied');
            return void socket.destroy();
          }
          socket.end(`HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${RETRY_AFTER_S}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        });
    },
  };
}
