/**
 * Every endpoint of the monitor, in one table (MONITOR_ROUTES): one row per method and path, with
 * the guard in front of it (route-guards.ts), what limits its rate, and its handler. Auditing "what
 * is open?" is reading the rows whose guard is PUBLIC.
 *
 * Paths fall in three zones, decided by the path alone before any row is consulted:
 *  - `/api/…`: exact rows only. Every request there is identified first, and a read_only identity
 *    may only GET or HEAD. A path or method that is no row answers 401 to an anonymous caller (it
 *    learns nothing about what exists) and 404 to an identified one.
 *  - `/ws/…`: WebSocket rows only (the upgrade; over plain HTTP such a path answers 400); anything
 *    else 404.
 *  - everything else: the dashboard's static files (PUBLIC prefix rows), or 404.
 * Each row carries its own guard, so the order of the rows decides nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import { InternalError } from '../lib/errors.ts';
import { assertDistinctRoutes, type RouteSummary } from '../lib/route-table.ts';
import { createAccountHandlers, type AccountHandlers } from './api/account.ts';
import { createApiTokenHandlers, type ApiTokenHandlers } from './api/api-tokens.ts';
import type { AccountApiDeps, EndedCredential } from './api/context.ts';
import { createCredentialHandlers, type CredentialHandlers } from './api/credentials.ts';
import { createHostHandlers, type HostHandlers } from './api/host.ts';
import { fail, jsonBody, noStore } from './api/json-api.ts';
import { AVATAR_PATH, createProfileHandlers, imageBody, type ProfileHandlers } from './api/profile.ts';
import { createSslHandlers, type SslHandlers } from './api/ssl.ts';
import { createTerminalTicketHandlers, type TerminalTicketHandlers } from './api/terminal-tickets.ts';
import { createCredentialChecks } from './auth/credential-check.ts';
import type { MonitorAuthDeps } from './auth/deps.ts';
import { identify, readOnlyGuard, requireAuth } from './auth/identity.ts';
import { AuthStoreUnavailable } from './auth/store.ts';
import { requestPathProblem, ROUTING } from './request-path.ts';
import { createGuards, MONITOR_GUARDS, type HttpGuardSpec } from './route-guards.ts';
import type { TerminalIdentityCheck } from './terminal/identity-check.ts';
import { TERMINAL_PATH } from './terminal/protocol.ts';
import type { SessionOwner, TerminalServer } from './terminal/server.ts';
import type { TicketStore } from './terminal/tickets.ts';

export { GUARD_MEANING, MONITOR_GUARDS, type MonitorGuard } from './route-guards.ts';

/** What the handlers of the rows are, built once per monitor from its services. */
export interface MonitorHandlers {
  account: AccountHandlers;
  credentials: CredentialHandlers;
  apiTokens: ApiTokenHandlers;
  profile: ProfileHandlers;
  ssl: SslHandlers;
  host: HostHandlers;
  terminal: TerminalTicketHandlers;
  /** `WS /ws/terminal`: the shell, handed the owner its TICKET guard found. */
  shell: TerminalServer['handleUpgrade'];
}

/**
 * What limits the rate of calls to a row. `credential failures`: wrong passwords, 2FA codes and setup
 * codes, counted per client address and per username (429 with Retry-After once over); `password
 * checks`: the process's cap on password hashes in flight (429 when the queue is full).
 */
export type MonitorRateLimit = 'credential failures' | 'credential failures, password checks';
const FAILURES: MonitorRateLimit = 'credential failures';
const FAILURES_AND_CHECKS: MonitorRateLimit = 'credential failures, password checks';

type ApiRoute = HttpGuardSpec & {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: `/api/${string}`;
  rateLimit?: MonitorRateLimit;
  /** How the request body is read: JSON for every method but GET unless it says otherwise. */
  body?: 'image';
  handler: (h: MonitorHandlers) => RequestHandler;
};
interface SocketRoute {
  method: 'WS';
  path: `/ws/${string}`;
  guard: 'TICKET';
  rateLimit?: undefined;
  handler: (h: MonitorHandlers) => MonitorHandlers['shell'];
}
interface FilesRoute {
  method: 'GET';
  /** A prefix: the files under it, HEAD included. */
  path: `/${string}*`;
  guard: 'PUBLIC';
  rateLimit?: undefined;
  files: () => RequestHandler;
}
export type MonitorRoute = ApiRoute | SocketRoute | FilesRoute;

const WEB_DIR = fileURLToPath(new URL('./web/', import.meta.url));
const XTERM_DIR = fileURLToPath(new URL('../node_modules/@xterm/xterm/', import.meta.url));
const XTERM_FIT_DIR = fileURLToPath(new URL('../node_modules/@xterm/addon-fit/lib/', import.meta.url));

export const MONITOR_ROUTES: readonly MonitorRoute[] = [
  // host data: hostname, uptime, a health word and liveness are public; the figures need a sign-in
  { method: 'GET', path: '/api/system-info', guard: 'PUBLIC', handler: (h) => h.host.systemInfo },
  { method: 'GET', path: '/api/health', guard: 'PUBLIC', handler: (h) => h.host.health },
  { method: 'GET', path: '/api/system', guard: 'READ', handler: (h) => h.host.system },
  { method: 'GET', path: '/api/storage', guard: 'READ', handler: (h) => h.host.storage },
  { method: 'GET', path: '/api/network', guard: 'READ', handler: (h) => h.host.network },
  // ProxMenux's summaries, for the Homepage and Home Assistant recipes written for it
  { method: 'GET', path: '/api/storage/summary', guard: 'READ', handler: (h) => h.host.storageSummary },
  { method: 'GET', path: '/api/network/summary', guard: 'READ', handler: (h) => h.host.networkSummary },
  { method: 'GET', path: '/api/prometheus', guard: 'READ', handler: (h) => h.host.prometheus },

  // the account: status, first run, login, logout (api/account.ts)
  { method: 'GET', path: '/api/auth/status', guard: 'PUBLIC', handler: (h) => h.account.status },
  { method: 'POST', path: '/api/auth/setup', guard: 'SETUP_CODE', setup: 'setup', rateLimit: FAILURES, handler: (h) => h.account.setup },
  { method: 'POST', path: '/api/auth/skip', guard: 'SETUP_CODE', setup: 'skip', rateLimit: FAILURES, handler: (h) => h.account.skip },
  { method: 'POST', path: '/api/auth/decline', guard: 'SETUP_CODE', setup: 'decline', rateLimit: FAILURES, handler: (h) => h.account.decline },
  { method: 'POST', path: '/api/auth/login', guard: 'PUBLIC', rateLimit: FAILURES_AND_CHECKS, handler: (h) => h.account.login },
  { method: 'POST', path: '/api/auth/logout', guard: 'ADMIN', handler: (h) => h.account.logout },

  // the local account's credentials (api/credentials.ts)
  { method: 'POST', path: '/api/auth/change-password', guard: 'ADMIN_REAUTH', reauth: { audit: 'change_password', passwordFields: ['old_password', 'current_password'] }, rateLimit: FAILURES_AND_CHECKS, handler: (h) => h.credentials.changePassword },
  { method: 'POST', path: '/api/auth/disable', guard: 'ADMIN_REAUTH', reauth: { audit: 'disable', recentLogin: true }, rateLimit: FAILURES_AND_CHECKS, handler: (h) => h.credentials.disable },
  { method: 'POST', path: '/api/auth/totp/setup', guard: 'ADMIN_REAUTH', reauth: { audit: 'totp_setup', recentLogin: true }, rateLimit: FAILURES_AND_CHECKS, handler: (h) => h.credentials.totpSetup },
  { method: 'POST', path: '/api/auth/totp/enable', guard: 'ADMIN', rateLimit: FAILURES, handler: (h) => h.credentials.totpEnable },
  { method: 'POST', path: '/api/auth/totp/disable', guard: 'ADMIN_REAUTH', reauth: { audit: 'totp_disable' }, rateLimit: FAILURES_AND_CHECKS, handler: (h) => h.credentials.totpDisable },

  // API tokens (api/api-tokens.ts)
  { method: 'POST', path: '/api/auth/generate-api-token', guard: 'ADMIN_REAUTH', reauth: { audit: 'generate_api_token', wrongStatus: 401 }, rateLimit: FAILURES_AND_CHECKS, handler: (h) => h.apiTokens.generate },
  { method: 'GET', path: '/api/auth/api-tokens', guard: 'READ', handler: (h) => h.apiTokens.list },
  { method: 'DELETE', path: '/api/auth/api-tokens/:id', guard: 'ADMIN', handler: (h) => h.apiTokens.revoke },

  // the profile (api/profile.ts)
  { method: 'GET', path: '/api/auth/profile', guard: 'READ', handler: (h) => h.profile.read },
  { method: 'PUT', path: '/api/auth/profile', guard: 'ADMIN', handler: (h) => h.profile.update },
  { method: 'GET', path: AVATAR_PATH, guard: 'READ', handler: (h) => h.profile.avatar },
  { method: 'POST', path: AVATAR_PATH, guard: 'ADMIN', body: 'image', handler: (h) => h.profile.setAvatar },
  { method: 'DELETE', path: AVATAR_PATH, guard: 'ADMIN', handler: (h) => h.profile.removeAvatar },

  // HTTPS settings, applied at the next start (api/ssl.ts)
  { method: 'GET', path: '/api/ssl/status', guard: 'READ', handler: (h) => h.ssl.status },
  { method: 'POST', path: '/api/ssl/validate', guard: 'ADMIN', handler: (h) => h.ssl.validate },
  { method: 'POST', path: '/api/ssl/configure', guard: 'ADMIN', handler: (h) => h.ssl.configure },
  { method: 'POST', path: '/api/ssl/disable', guard: 'ADMIN', handler: (h) => h.ssl.disable },

  // the web terminal: a ticket over HTTP (JSON only: no form can ask for a shell), then the WebSocket
  { method: 'POST', path: '/api/terminal/ticket', guard: 'ADMIN', handler: (h) => h.terminal.ticket },
  { method: 'POST', path: '/api/terminal/renew', guard: 'ADMIN', handler: (h) => h.terminal.renew },
  { method: 'WS', path: TERMINAL_PATH, guard: 'TICKET', handler: (h) => h.shell },

  // the dashboard; the terminal's scripts answer 404/405 themselves rather than falling through to it
  { method: 'GET', path: '/vendor/xterm/*', guard: 'PUBLIC', files: () => express.static(XTERM_DIR, { index: false, fallthrough: false }) },
  { method: 'GET', path: '/vendor/xterm-addon-fit/*', guard: 'PUBLIC', files: () => express.static(XTERM_FIT_DIR, { index: false, fallthrough: false }) },
  { method: 'GET', path: '/*', guard: 'PUBLIC', files: () => express.static(WEB_DIR, { index: 'index.html' }) },
];

/** The rows as `gatehouse routes` prints them; needs no running monitor. */
export function describeMonitorRoutes(): RouteSummary[] {
  return MONITOR_ROUTES.map(({ method, path, guard, rateLimit }) => ({ method, path, guard, rateLimit: rateLimit ?? null }));
}

type Zone = 'api' | 'ws' | 'files';

function zoneOf(path: string): Zone {
  if (path === '/api' || path.startsWith('/api/')) return 'api';
  if (path === '/ws' || path.startsWith('/ws/')) return 'ws';
  return 'files';
}

/** `/api/auth/api-tokens/:id` as a regular expression over paths, to find rows that would answer the same path. */
function pathPattern(path: string): RegExp {
  const segments = path.split('/').map((s) => (s.startsWith(':') ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${segments.join('/')}$`);
}

/** Throws when the table breaks a rule the zones rely on; run when the routes are built, and by the unit test. */
export function assertMonitorTable(rows: readonly MonitorRoute[]): void {
  assertDistinctRoutes(rows.map(({ method, path, guard }) => ({ method, path, guard, rateLimit: null })));
  for (const row of rows) {
    const where = `route table: ${row.method} ${row.path}`;
    if (!(MONITOR_GUARDS as readonly string[]).includes(row.guard)) throw new InternalError('route_table_invalid', `${where}: unknown guard ${row.guard}`);
    if ('files' in row) {
      if (!row.path.endsWith('/*') || zoneOf(row.path.slice(0, -1)) !== 'files') throw new InternalError('route_table_invalid', `${where}: files are a prefix row, never under /api or /ws`);
    } else if (row.method === 'WS') {
      if (zoneOf(row.path) !== 'ws' || row.guard !== 'TICKET') throw new InternalError('route_table_invalid', `${where}: a WebSocket row lives under /ws behind TICKET`);
    } else {
      if (zoneOf(row.path) !== 'api' || row.path.includes('*')) throw new InternalError('route_table_invalid', `${where}: an API row is one exact path under /api`);
      // a read_only identity reaches READ rows: they must only read
      if (row.guard === 'READ' && row.method !== 'GET') throw new InternalError('route_table_invalid', `${where}: READ rows are GET (use ADMIN for a change)`);
    }
  }
  const api = rows.filter((row): row is ApiRoute => zoneOf(row.path) === 'api');
  for (const a of api) {
    for (const b of api) {
      if (a !== b && a.method === b.method && pathPattern(a.path).test(b.path)) throw new InternalError('route_table_invalid', `route table: ${a.method} ${a.path} also answers ${b.path}`);
    }
  }
}

export interface MonitorRouteDeps {
  auth: MonitorAuthDeps;
  logger: Logger;
  /** Issued by POST /api/terminal/ticket, spent by the TICKET guard. */
  tickets: TicketStore<SessionOwner>;
  terminal: Pick<TerminalServer, 'handleUpgrade' | 'runAs'>;
  /** Binds each terminal to the identity that opened it; the page renews a gateway identity through it. */
  terminalIdentity: Pick<TerminalIdentityCheck, 'bind' | 'renew' | 'renewSeconds'>;
  /** A credential ended (logout, revocation, password change, disable): close what it opened. */
  onCredentialEnded?: (ended: EndedCredential) => void;
  /** Handler groups to use instead of the real ones (tests: stand-in host data or terminal). */
  handlers?: Partial<MonitorHandlers>;
}

function createMonitorHandlers(deps: MonitorRouteDeps, account: AccountApiDeps): MonitorHandlers {
  const given = deps.handlers ?? {};
  return {
    account: given.account ?? createAccountHandlers(account),
    credentials: given.credentials ?? createCredentialHandlers(account),
    apiTokens: given.apiTokens ?? createApiTokenHandlers(account),
    profile: given.profile ?? createProfileHandlers(deps.auth),
    ssl: given.ssl ?? createSslHandlers(deps.auth),
    host: given.host ?? createHostHandlers({ logger: deps.logger, passwordChecks: deps.auth.passwords.limiter.stats }),
    terminal: given.terminal ?? createTerminalTicketHandlers(deps),
    shell: given.shell ?? ((req, socket, head, owner) => deps.terminal.handleUpgrade(req, socket, head, owner)),
  };
}

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

function notFound(_req: Request, res: Response): void {
  fail(res, 404, 'Not found');
}

/** The one error handler: never an exception's text to the client. */
function answerError(logger: Logger) {
  return (error: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) return next(error);
    if (error instanceof AuthStoreUnavailable) return fail(res, 503, error.message);
    const e = error as { type?: unknown; status?: unknown };
    if (e.type === 'entity.too.large') return fail(res, 413, req.path === AVATAR_PATH ? 'The image is larger than 2 MB' : 'The request body is too large');
    if (e.type === 'entity.parse.failed') return fail(res, 400, 'The request body is not valid JSON');
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return fail(res, e.status, 'Malformed request');
    logger.error({ err: error, method: req.method, path: req.path }, 'monitor: unexpected error');
    fail(res, 500, 'Internal error');
  };
}

export function buildMonitorRoutes(deps: MonitorRouteDeps): {
  request: (req: IncomingMessage, res: ServerResponse) => void;
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
} {
  assertMonitorTable(MONITOR_ROUTES);
  const checks = createCredentialChecks(deps.auth);
  const handlers = createMonitorHandlers(deps, { auth: deps.auth, checks, credentialEnded: (ended) => deps.onCredentialEnded?.(ended) });
  const guards = createGuards({ auth: deps.auth, checks, tickets: deps.tickets });

  // one spelling per path, as the gateway's rules read it (request-path.ts)
  const api = express.Router(ROUTING);
  const sockets = express.Router(ROUTING);
  const files = express.Router(ROUTING);
  const upgrades = new Map<string, MonitorHandlers['shell']>();
  // who is asking: trusted Remote-User (+ assertion), Bearer, or Basic with an API token; read_only only reads
  api.use(noStore, identify(deps.auth), readOnlyGuard);
  for (const row of MONITOR_ROUTES) {
    if ('files' in row) {
      files.use(row.path.slice(0, -2) || '/', row.files());
    } else if (row.method === 'WS') {
      upgrades.set(row.path, row.handler(handlers));
      sockets.all(row.path, (_req: Request, res: Response) => fail(res, 400, 'This is a WebSocket endpoint: connect with Upgrade: websocket and a ticket'));
    } else {
      const body = row.body === 'image' ? imageBody : row.method === 'GET' ? [] : jsonBody;
      const verb = row.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete';
      api[verb](row.path, ...guards.chain(row, body), row.handler(handlers));
    }
  }
  api.use(requireAuth, notFound);
  sockets.use(notFound);
  files.use(notFound);
  const zones: Record<Zone, express.Router> = { api, ws: sockets, files };

  const app = express();
  app.set('case sensitive routing', ROUTING.caseSensitive);
  app.set('strict routing', ROUTING.strict);
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(securityHeaders);
  app.use((req: Request, res: Response, next: NextFunction) => zones[zoneOf(req.path)](req, res, next));
  app.use(answerError(deps.logger));

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
      const shell = upgrades.get((req.url ?? '').split('?')[0]!);
      if (shell === undefined) return void socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      // the ticket is spent first, whatever happens next (a failed handshake included)
      shell(req, socket, head, guards.ticketOwner(req));
    },
  };
}
