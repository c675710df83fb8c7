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
import { createAuthRouter, requireJson, type EndedCredential } from './api/auth-routes.ts';
import { createHostRouter } from './api/host-routes.ts';
import type { MonitorAuthDeps } from './auth/deps.ts';
import { identify, readOnlyGuard, requireAuth, requireScope } from './auth/identity.ts';
import type { SessionOwner } from './terminal/server.ts';
import type { TicketStore } from './terminal/tickets.ts';

export interface MonitorRouteDeps {
  auth: MonitorAuthDeps;
  tickets: TicketStore<SessionOwner>;
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
    res.set('Cache-Control', 'no-store').json(deps.tickets.issue({ username, via, jti, generation }));
  });
  // everything else under /api needs an identity; read_only may only read
  app.use('/api', requireAuth, readOnlyGuard);
  app.use(host);
  app.use('/api', (_req: Request, res: Response) => {
    res.status(404).json({ success: false, message: 'Not found' });
  });
  app.use(express.static(WEB_DIR, { index: 'index.html' }));
  app.use((error: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    if (error.status && error.status >= 400 && error.status < 500) {
      res.status(error.status).json({ success: false, message: 'Malformed request' });
      return;
    }
    deps.logger.error({ err: error }, 'monitor: unexpected error');
    if (!res.headersSent) res.status(500).json({ success: false, message: 'Internal error' });
  });

  return {
    request: (req, res) =>
      app(req as Request, res as Response, (error?: unknown) => {
        if (error) deps.logger.error({ err: error }, 'monitor: error after the response');
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"success":false,"message":"Internal error"}');
      }),
    upgrade: (req, socket, head) => {
      if (!deps.terminalUpgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    },
  };
}
