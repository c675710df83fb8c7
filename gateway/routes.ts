/**
 * Every endpoint of the gateway and the guards in front of it, in one table. Auditing "what is
 * public?" is reading this file: nothing registers a route anywhere else.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import { createAuthzHandler, type AuthzDeps } from './authz/forward-auth.ts';
import { RETRY_AFTER_S, unavailableMessage } from './backend-unavailable.ts';
import { canonicalRequestHost } from './authz/target.ts';
import { DEFAULT_AUTHZ_ENDPOINTS, type AuthzEndpoint } from './authz/authn-strategies.ts';
import type { CookieDomain } from './session/cookie-domains.ts';
import type { EmbeddedProxy } from './proxy/embedded-proxy.ts';
import { firstFactorHandler, healthHandler, logoutHandler, stateHandler, userInfoHandler } from './portal/api.ts';
import { requireFormSameOrigin, requireJsonSameOrigin } from './portal/csrf.ts';
import type { PortalDeps } from './portal/deps.ts';
import { loginForm, loginPage, logoutForm, setupForm, setupPage } from './portal/pages.ts';
import { portalSessions } from './portal/session-middleware.ts';

export interface RouteDeps {
  authz: AuthzDeps;
  portal: PortalDeps;
  cookieDomains: readonly CookieDomain[];
  sessionSecret: string;
  proxy: EmbeddedProxy | null;
  /** The forward-auth endpoints served (server.endpoints.authz); default: all three, every strategy. */
  authzEndpoints?: readonly AuthzEndpoint[];
}

export interface Routes {
  request(req: IncomingMessage, res: ServerResponse): void;
  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void;
}

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

const STATIC_DIR = fileURLToPath(new URL('./portal/static/', import.meta.url));

/** Wrap an async express handler so a rejection reaches the error handler (which hides its text). */
function safe(handler: (req: Request, res: Response) => unknown) {
  return (req: Request, res: Response, next: NextFunction) => {
    Promise.resolve(handler(req, res)).catch(next);
  };
}

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set({
    'Content-Security-Policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'same-origin',
    'X-Frame-Options': 'DENY',
    'Cache-Control': 'no-store',
  });
  next();
}

function portalRouter(deps: RouteDeps, health: NodeHandler): express.Router {
  const p = deps.portal;
  const json = express.json({ limit: '16kb', type: 'application/json' });
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });
  const sessions = portalSessions(deps.cookieDomains, p.sessions, deps.sessionSecret);
  const r = express.Router({ strict: false });

  // public, no session
  r.get('/api/health', (req, res) => health(req, res));
  r.use('/static', express.static(STATIC_DIR, { index: false, fallthrough: false, maxAge: '1h' }));

  // everything below reads the session of the request's cookie domain
  r.use(sessions);
  r.get('/', safe(loginPage(p)));
  r.post('/login', form, requireFormSameOrigin, safe(loginForm(p)));
  r.post('/logout', form, requireFormSameOrigin, safe(logoutForm()));
  r.get('/setup', safe(setupPage(p)));
  r.post('/setup', form, requireFormSameOrigin, safe(setupForm(p)));

  r.post('/api/firstfactor', requireJsonSameOrigin, json, safe(firstFactorHandler(p)));
  r.post('/api/logout', requireJsonSameOrigin, json, safe(logoutHandler()));
  r.get('/api/state', safe(stateHandler(p)));
  r.get('/api/user/info', safe(userInfoHandler(p)));
  return r;
}

export function buildRoutes(deps: RouteDeps): Routes {
  /** Plain node handlers, no express or session middleware: the forward-auth hot path. Any host. */
  const fast = new Map<string, NodeHandler>(
    (deps.authzEndpoints ?? DEFAULT_AUTHZ_ENDPOINTS).map((endpoint) => [endpoint.path, createAuthzHandler(endpoint.dialect, deps.authz, endpoint.strategies)]),
  );
  // public: the key apps use to check the identity assertion (identity_assertion)
  const assertions = deps.authz.assertions;
  if (assertions) {
    const body = JSON.stringify(assertions.jwks);
    fast.set('/jwks.json', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/jwk-set+json', 'Cache-Control': 'public, max-age=300', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  }
  /** Public, no session: on every host except a proxied app's, whose own /api/health it would hide. */
  const health = healthHandler(deps.portal);

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', (addr: string) => deps.authz.isTrustedProxy(addr));
  app.set('query parser', 'simple');
  app.use(securityHeaders);
  const portalPaths = new Set(deps.cookieDomains.map((d) => d.portalUrl.pathname.replace(/\/+$/, '')));
  for (const path of portalPaths) {
    if (path === '') app.use(portalRouter(deps, health));
    else {
      app.get(path, (req, res, next) => {
        // only the bare path: non-strict routing matches `/auth/` here too, and that is the portal itself
        if (req.path !== path) return next();
        res.redirect(301, `${path}/${req.url.slice(path.length)}`);
      });
      app.use(path, portalRouter(deps, health));
    }
  }
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ status: 'KO', message: 'Not found.' });
  });
  app.use((error: Error & { status?: number; type?: string }, req: Request, res: Response, _next: NextFunction) => {
    // body-parser's client errors keep their status; anything else is ours and its text stays in the log
    if (error.status && error.status >= 400 && error.status < 500) {
      res.status(error.status).json({ status: 'KO', message: error.type === 'entity.too.large' ? 'Request body too large.' : 'Malformed request.' });
      return;
    }
    const unavailable = unavailableMessage(error);
    if (unavailable !== null) {
      // a session that was never saved must not get a cookie: express-session sets none without req.session
      (req as { session?: unknown }).session = undefined;
      // the store's outage log reports the failure once, not per request
      if (!res.headersSent) res.status(503).set('Retry-After', String(RETRY_AFTER_S)).json({ status: 'KO', message: unavailable });
      return;
    }
    deps.portal.logger.error({ err: error }, 'portal: unexpected error');
    if (!res.headersSent) res.status(500).json({ status: 'KO', message: 'Internal error.' });
  });

  // a host with an upstream goes to the app, except the portal's own paths on the portal's host
  const portalHosts = new Map(deps.cookieDomains.map((d) => [d.portalUrl.hostname, d.portalUrl.pathname]));
  const isPortal = (host: string, path: string) => {
    const base = portalHosts.get(host);
    return base !== undefined && (path === base.replace(/\/$/, '') || path.startsWith(base.endsWith('/') ? base : `${base}/`));
  };
  const badHost = (res: ServerResponse) => {
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end('400 Bad Request: the Host header is missing or not in canonical form.');
  };
  const pathOf = (req: IncomingMessage) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    return q === -1 ? url : url.slice(0, q);
  };

  return {
    request(req, res) {
      const path = pathOf(req);
      const handler = fast.get(path);
      if (handler) return handler(req, res);
      if (deps.proxy) {
        // route on the host the rules will judge, computed once: a Host the URL parser reads as another
        // host (`www.example.test.`, `www%2eexample.test`) would otherwise pick `default` under www's rule
        const host = canonicalRequestHost(req.headers.host);
        if (host === null) return badHost(res);
        if (deps.proxy.proxies(host) && !isPortal(host, path)) return deps.proxy.handle(req, res, host);
      }
      if (path === '/api/health') return health(req, res);
      // an error after the error handler answered (express-session reports a failed store write when the
      // response ends) goes to our log; express's default handler would print its stack on stderr
      app(req as Request, res as Response, (error?: unknown) => {
        if (error) deps.portal.logger.error({ err: error }, 'portal: error after the response');
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
          res.end(JSON.stringify({ status: 'KO', message: 'Internal error.' }));
        }
      });
    },
    upgrade(req, socket, head) {
      if (deps.proxy) {
        // the same canonical host as for requests (see above)
        const host = canonicalRequestHost(req.headers.host);
        if (host === null) return void socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        if (deps.proxy.proxies(host) && !isPortal(host, pathOf(req))) return deps.proxy.upgrade(req, socket, head, host);
      }
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    },
  };
}
