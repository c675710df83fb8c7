/**
 * A real HTTP server with the monitor's route table (monitor/routes.ts: its rows, guards and error
 * answers), over a fresh data directory, with stand-ins for the host data and the terminal: GET
 * /api/system (READ) answers what it saw of the request, POST /api/terminal/ticket (ADMIN) a fake
 * ticket, GET /api/system-info (PUBLIC) the identity if any. Requests can come from another loopback
 * address (127.0.0.2) to play an untrusted peer.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { RequestHandler } from 'express';
import { generateSync } from 'otplib';
import type { JWTVerifyGetKey } from 'jose';
import { monitorConfigSchema, type MonitorConfig } from '../../monitor/config/schema.ts';
import { createMonitorAuth, type MonitorAuthDeps } from '../../monitor/auth/deps.ts';
import { buildMonitorRoutes } from '../../monitor/routes.ts';
import { createHostHandlers, type HostHandlerOptions } from '../../monitor/api/host.ts';
import { TicketStore } from '../../monitor/terminal/tickets.ts';
import type { WindowRule } from '../../lib/rate-limit.ts';
import { captureLogs, type LogRecord } from '../helpers/logs.ts';
import { makeTempDir } from '../helpers/tmp.ts';

export const FAST_ARGON2 = { memory: 1024, iterations: 1, parallelism: 1 };
export const PASSWORD = 'Correct-Horse-42';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The parsed body ({} when it is not JSON); tests read fields by name. */
  json: Record<string, any>;
}

export interface SendOptions {
  method?: string;
  json?: unknown;
  body?: string | Buffer;
  headers?: OutgoingHttpHeaders;
  token?: string;
  /** Source address of the connection (e.g. 127.0.0.2). */
  from?: string;
}

export interface AuthServer {
  url: string;
  dir: string;
  config: MonitorConfig;
  deps: MonitorAuthDeps;
  logs: LogRecord[];
  auditPath: string;
  clock: { advance(ms: number): void; now(): number };
  send(path: string, options?: SendOptions): Promise<Reply>;
  /** Set up the account (username admin), with the setup code the monitor logged, and return its session token. */
  setup(username?: string): Promise<string>;
  /** The setup code the monitor logs while no login is set up (made now if need be); null once configured. */
  setupCode(): Promise<string | null>;
  login(username?: string, extra?: Record<string, unknown>): Promise<Reply>;
  /** A TOTP code for `secret` at the test clock, `stepOffset` periods away. */
  totp(secret: string, stepOffset?: number): string;
  close(): Promise<void>;
}

export interface AuthServerOptions {
  config?: Record<string, unknown>;
  rateLimits?: { perIp?: WindowRule; perUser?: WindowRule };
  assertionKeys?: JWTVerifyGetKey;
  proxmoxCertDir?: string;
  dir?: string;
  /** Replaces the password verifier (count or hold the calls). */
  verifyPassword?: (encoded: string, password: string) => Promise<boolean>;
  /** The real host data handlers over these fixture roots, instead of the stand-ins. */
  host?: Pick<HostHandlerOptions, 'procRoot' | 'sysRoot' | 'now'>;
}

/** A fresh server with the account set up (username admin), and that account's session token. */
export async function startSignedIn(options: AuthServerOptions = {}): Promise<{ server: AuthServer; session: string }> {
  const server = await startAuthServer(options);
  return { server, session: await server.setup() };
}

export async function startAuthServer(options: AuthServerOptions = {}): Promise<AuthServer> {
  const temp = options.dir ? { dir: options.dir, cleanup: async () => {} } : await makeTempDir('gatehouse-monitor-auth-');
  const dataDir = join(temp.dir, 'data');
  const config = monitorConfigSchema.parse({ data_dir: dataDir, trusted_proxies: ['127.0.0.1/32'], ...options.config });
  let offset = 0;
  const clock = { now: () => Date.now() + offset, advance: (ms: number) => void (offset += ms) };
  const { logger, records } = captureLogs();
  const deps = createMonitorAuth(config, {
    logger,
    now: clock.now,
    argon2: FAST_ARGON2,
    ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
    ...(options.assertionKeys ? { assertionKeys: options.assertionKeys } : {}),
    ...(options.verifyPassword ? { verifyPassword: options.verifyPassword } : {}),
    proxmoxCertDir: options.proxmoxCertDir ?? join(temp.dir, 'no-pve'),
  });

  // stand-ins for the host data and the terminal: what they see of the request
  const nothing: RequestHandler = (_req, res) => void res.json({});
  const routes = buildMonitorRoutes({
    auth: deps,
    logger,
    tickets: new TicketStore(),
    terminal: { handleUpgrade: (_req, socket) => void socket.destroy(), runAs: () => 'nobody' },
    terminalIdentity: { bind: () => 'binding', renew: () => ({ ok: true }), renewSeconds: 10 },
    handlers: {
      host: options.host ? createHostHandlers({ logger, ...options.host }) : {
        system: (req, res) => void res.json({ identity: req.identity, clientIp: req.clientIp, headers: req.headers, rawHeaders: req.rawHeaders }),
        systemInfo: (req, res) => void res.json({ hostname: 'test', identity: req.identity ?? null }),
        health: nothing,
        storage: nothing,
        network: nothing,
        storageSummary: nothing,
        networkSummary: nothing,
        prometheus: nothing,
      },
      terminal: {
        ticket: (req, res) => void res.json({ ticket: 'x', ttl_seconds: 5, for: req.identity?.username }),
        renew: nothing,
      },
    },
  });

  const server: Server = createServer(routes.request);
  server.on('upgrade', routes.upgrade);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  const send = (path: string, o: SendOptions = {}): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const headers: OutgoingHttpHeaders = { ...o.headers };
      let body: string | Buffer | undefined = o.body;
      if (o.json !== undefined) {
        body = JSON.stringify(o.json);
        headers['content-type'] ??= 'application/json';
      }
      if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
      if (o.token) headers['authorization'] = `Bearer ${o.token}`;
      const req = httpRequest(
        { host: '127.0.0.1', port, path, method: o.method ?? (body === undefined ? 'GET' : 'POST'), headers, agent: false, ...(o.from ? { localAddress: o.from } : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: Record<string, unknown> = {};
            try {
              json = JSON.parse(text) as Record<string, unknown>;
            } catch {
              // not JSON (avatar bytes)
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  const totp = (secret: string, stepOffset = 0) => generateSync({ secret, epoch: Math.floor(clock.now() / 1000) + stepOffset * 30 });

  return {
    url,
    dir: temp.dir,
    config,
    deps,
    logs: records,
    auditPath: config.audit_log ?? join(dataDir, 'auth.log'),
    clock,
    send,
    totp,
    setupCode: async () => deps.setupCode.refresh(await deps.store.read()),
    async setup(username = 'admin') {
      const setupCode = deps.setupCode.refresh(await deps.store.read());
      const reply = await send('/api/auth/setup', { json: { username, password: PASSWORD, setup_code: setupCode } });
      if (reply.status !== 200) throw new Error(`setup failed: ${reply.status} ${reply.body}`);
      return reply.json.token as string;
    },
    login: (username = 'admin', extra = {}) => send('/api/auth/login', { json: { username, password: PASSWORD, ...extra } }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await deps.audit.flush();
      await temp.cleanup();
    },
  };
}

/** Generate an API token through the API and return it. */
export async function makeApiToken(server: AuthServer, session: string, scope: 'read_only' | 'full_admin', extra: Record<string, unknown> = {}): Promise<string> {
  const reply = await server.send('/api/auth/generate-api-token', { token: session, json: { password: PASSWORD, token_name: `${scope} token`, scope, ...extra } });
  if (reply.json.success !== true) throw new Error(`generate-api-token failed: ${reply.status} ${reply.body}`);
  return reply.json.token as string;
}
