/**
 * Every endpoint of the monitor and the guards in front of it, in one table. Public: the dashboard's
 * static files, /api/system-info, /api/health and the auth entry points (status, setup, login, skip,
 * decline) that the auth router marks itself. Everything else needs an identity, and a read_only
 * identity may only read.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { createAuthRouter, type EndedCredential } from './api/auth-routes.ts';
import { requireJson } from './api/json-api.ts';
import { createHostRouter } from './api/host-routes.ts';
import type { MonitorAuthDeps } from './auth/deps.ts';
import { identify, readOnlyGuard, requireAuth, requireScope } from './auth/identity.ts';
import { requestPathProblem, ROUTING } from './request-path.ts';
import { TERMINAL_PATH } from './terminal/protocol.ts';
import { BINDINGS_FULL, type TerminalIdentityCheck } from './terminal/identity-check.ts';
import type { SessionOwner } from './terminal/server.ts';
import type { TicketStore } from './terminal/tickets.ts';

export interface MonitorRouteDeps {
  auth: MonitorAuthDeps;
  tickets: TicketStore<SessionOwner>;
  /** Binds each terminal to the identity that opened it; the page renews a gateway identity through it. */
  terminalIdentity: Pick<TerminalIdentityCheck, 'bind' | 'renew' | 'renewSeconds'>;
  /** A credential ended (logout, revocation, password change, disable): close what it opened. */
  onCredentialEnded?: (ended: EndedCredential) => void;
  logger: Logger;
  /** `true` when the path was a WebSocket endpoint the terminal took. */
  terminalUpgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => boolean;
}

const WEB_DIR = fileURLToPath(new URL('./web/', import.meta.url));
const XTERM_DIR = fileURLToPath(new URL('../node_modules/@xterm/xterm/', import.meta.url));
const XTERM_FIT_DIR = fileURLToPath(new URL('../node_modules/@xterm/addon-fit/lib/', import.meta.url));

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set({
    // the dashboard is plain modules and stylesheets from here; images may be data: URLs (the QR code)
    'Content-Security-Policy':
      "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
  });
  next();
}

export function buildMonitorRoutes(deps: MonitorRouteDeps): {
  request: (req: IncomingMessage, res: ServerResponse) => void;
  upgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
} {
  const app = express();
  // one spelling per path, as the gateway's rules read it (request-path.ts)
  app.set('case sensitive routing', ROUTING.caseSensitive);
  app.set('strict routing', ROUTING.strict);
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(securityHeaders);

  // public, no identity needed
  app.use('/vendor/xterm', express.static(XTERM_DIR, { index: false, fallthrough: false }));
  app.use('/vendor/xterm-addon-fit', express.static(XTERM_FIT_DIR, { index: false, fallthrough: false }));
  const host = createHostRouter({ logger: deps.logger, passwordChecks: deps.auth.passwords.limiter.stats });

  // who is asking: trusted Remote-User (+ assertion), Bearer, or Basic with an API token
  app.use('/api', identify(deps.auth));
  app.get(['/api/system-info', '/api/health'], host);
  app.use(createAuthRouter(deps.auth, { onCredentialEnded: deps.onCredentialEnded }));
  // JSON only, like every other POST: no form can ask for a shell (L3); the owner is kept so the session ends with its credential (L4)
  app.post('/api/terminal/ticket', requireScope('full_admin'), requireJson, (req: Request, res: Response) => {
    const { username, via, jti, sessionGeneration: generation } = req.identity!;
    const binding = deps.terminalIdentity.bind();
    // every binding held keeps a terminal alive: refuse this one rather than close someone else's
    if (binding === null) return void res.status(503).set({ 'Retry-After': '10', 'Cache-Control': 'no-store' }).json({ success: false, message: BINDINGS_FULL });
    const ticket = deps.tickets.issue({ username, via, jti, generation, bearer: req.bearerToken, binding });
    // `session` and `renew_seconds`: the page re-confirms a gateway sign-in with them (terminal/identity-check.ts)
    res.set('Cache-Control', 'no-store').json({ ...ticket, session: binding, renew_seconds: deps.terminalIdentity.renewSeconds });
  });
  // sent through the gateway while the terminal is open: it only arrives while the gateway still vouches for the user
  app.post('/api/terminal/renew', requireScope('full_admin'), requireJson, express.json({ limit: '1kb', type: 'application/json' }), (req: Request, res: Response) => {
    const body: unknown = req.body;
    const binding = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).session : undefined;
    const outcome = deps.terminalIdentity.renew(binding, req.identity!);
    res.set('Cache-Control', 'no-store');
    if (outcome.ok) res.json({ success: true, renew_seconds: deps.terminalIdentity.renewSeconds });
    else res.status(outcome.status).json({ success: false, message: outcome.message });
  });
  // everything else under /api needs an identity; read_only may only read
  app.use('/api', requireAuth, readOnlyGuard);
  app.use(host);
  app.use('/api', (_req: Request, res: Response) => {
    res.status(404).json({ success: false, message: 'Not found' });
  });
  // the terminal's path without an Upgrade: a WebSocket endpoint, nothing to serve over plain HTTP
  app.all(TERMINAL_PATH, (_req: Request, res: Response) => {
    res.status(400).json({ success: false, message: 'This is a WebSocket endpoint: connect with Upgrade: websocket and a ticket' });
  });
  app.use(express.static(WEB_DIR, { index: 'index.html' }));
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ success: false, message: 'Not found' });
  });
  app.use((error: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    if (error.status && error.status >= 400 && error.status < 500) {
      res.status(error.status).json({ success: false, message: 'Malformed request' });
      return;
    }
    deps.logger.error({ err: error }, 'monitor: unexpected error');
    if (!res.headersSent) res.status(500).json({ success: false, message: 'Internal error' });
  });

  return {
    request: (req, res) => {
      // one reading of the path for every route below: anything else is refused before routing
      const problem = requestPathProblem(req.url);
      if (problem !== null) {
        deps.logger.info({ rhost: req.socket.remoteAddress, problem }, 'monitor: request path refused');
        res.writeHead(400, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
        res.end(JSON.stringify({ success: false, message: `Malformed request path: ${problem}` }));
        return;
      }
      app(req as Request, res as Response, (error?: unknown) => {
        if (error) deps.logger.error({ err: error }, 'monitor: error after the response');
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"success":false,"message":"Internal error"}');
      });
    },
    upgrade: (req, socket, head) => {
      if (requestPathProblem(req.url) !== null) return void socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      if (!deps.terminalUpgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    },
  };
}
