/**
 * The embedded reverse proxy: Gatehouse in front of an app without nginx/Traefik/Caddy. Every request
 * and WebSocket upgrade gets the same decision as forward auth (decide.ts) and is refused in the
 * table's `embedded` row (dialects.ts); identity headers the client sent are removed, and the ones
 * Gatehouse vouches for are added.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createProxyMiddleware, type RequestHandler } from 'http-proxy-middleware';
import { isWebSocketUpgrade } from '../../lib/http-server.ts';
import { answerOf, decideAndDeliver, identityHeaders, rawAnswer, refuseHttp, type Delivery } from '../authz/answer.ts';
import { ASSERTION_HEADER } from '../authz/assertion.ts';
import type { Allow, AuthnStrategies, AuthzDeps, Refusal } from '../authz/decide.ts';
import { DIALECTS } from '../authz/dialects.ts';

const EMBEDDED = DIALECTS.embedded;

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

/** A proxied request and the upstream it goes to when allowed. */
interface RequestExchange {
  req: IncomingMessage;
  res: ServerResponse;
  handler: RequestHandler;
}

/** A WebSocket handshake: answered on its raw socket when refused. */
interface UpgradeExchange {
  req: IncomingMessage;
  socket: Socket;
  head: Buffer;
  handler: RequestHandler;
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

  /**
   * On allow, the request as the app will see it: what the decision read is taken first, then the
   * credentials and every header the client may not choose are replaced by Gatehouse's own. Returns
   * a refusal instead when the request cannot be passed on.
   */
  async function passOn(req: IncomingMessage, verdict: Allow, websocket: boolean): Promise<Refusal | null> {
    const { target } = verdict;
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
    // the address the decision judged: a trusted proxy's X-Forwarded-For named in its Connection was
    // meant for this hop, and this hop judged by it
    req.headers['x-forwarded-for'] = verdict.ip;
    req.headers['x-forwarded-proto'] = target.url.protocol === 'https:' || target.url.protocol === 'wss:' ? 'https' : 'http';
    req.headers['x-forwarded-host'] = hostHeader;
    const id = verdict.identity;
    const headers = identityHeaders(id);
    if (deps.assertions && id) headers.push(ASSERTION_HEADER, await deps.assertions.assertionFor(id, target.host));
    for (let i = 0; i < headers.length; i += 2) if (headers[i + 1]) req.headers[headers[i]!.toLowerCase()] = headers[i + 1];
    // the session cookie is a bearer credential for every app in the domain: the app never sees it
    const cookie = req.headers.cookie;
    if (cookie) {
      const kept = withoutCookies(cookie, sessionCookieNames);
      if (kept) req.headers.cookie = kept;
      else delete req.headers.cookie;
    }
    return null;
  }

  const requests: Delivery<RequestExchange> = {
    row: EMBEDDED,
    logger: deps.logger,
    async deliver({ req, res, handler }, verdict) {
      const refusal = verdict.kind === 'allow' ? await passOn(req, verdict, false) : verdict;
      if (refusal) refuseHttp(res, EMBEDDED, refusal, deps.logger);
      else await handler(req, res);
    },
    begun: ({ res }) => res.headersSent,
    abort: ({ res }) => void res.destroy(),
  };

  const upgrades: Delivery<UpgradeExchange> = {
    row: EMBEDDED,
    logger: deps.logger,
    async deliver({ req, socket, head, handler }, verdict) {
      const refusal = verdict.kind === 'allow' ? await passOn(req, verdict, true) : verdict;
      if (refusal) socket.end(rawAnswer(answerOf(EMBEDDED, refusal, req, true)));
      else handler.upgrade(req, socket, head);
    },
    begun: ({ socket }) => socket.writableEnded || socket.destroyed,
    abort: ({ socket }) => void socket.destroy(),
  };

  return {
    proxies(host) {
      return handlerFor(host) !== null;
    },
    handle(req, res, host) {
      const handler = handlerFor(host);
      if (!handler) return void res.writeHead(404).end();
      stripIdentityHeaders(req);
      decideAndDeliver(requests, { req, res, handler }, req, deps, strategies, { host, scheme });
    },
    upgrade(req, socket, head, host) {
      const handler = handlerFor(host);
      if (!handler) return void socket.destroy();
      // serve() hands over WebSocket handshakes only (any other upgrade is a plain request); should
      // another ever come here, it gets an answer: the proxy library would drop the socket silently
      if (!isWebSocketUpgrade(req)) return void socket.end(rawAnswer(answerOf(EMBEDDED, { kind: 'bad-request', reason: 'not a WebSocket upgrade' }, req, true)));
      stripIdentityHeaders(req);
      decideAndDeliver(upgrades, { req, socket, head, handler }, req, deps, strategies, { host, scheme });
    },
  };
}
