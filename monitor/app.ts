/**
 * The monitor's composition root: builds the auth services, the terminal and the route table from the
 * configuration and starts listening. Nothing global: two monitors can run in one process (tests do).
 */
import type { Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { serve } from '../lib/http-server.ts';
import { clientIp } from '../lib/net/client-ip.ts';
import type { Argon2Params } from '../lib/password-hash.ts';
import type { MonitorConfig } from './config/schema.ts';
import { createMonitorAuth, type MonitorAuthDeps } from './auth/deps.ts';
import { readSslSettings } from './auth/ssl-settings.ts';
import { buildMonitorRoutes } from './routes.ts';
import { createTerminalServer } from './terminal/server.ts';
import { TicketStore } from './terminal/tickets.ts';

export interface MonitorOptions {
  logger: Logger;
  now?: () => number;
  /** Hash parameters for new passwords (tests make them cheap). */
  argon2?: Partial<Argon2Params>;
}

export interface Monitor {
  server: Server;
  url: string;
  port: number;
  auth: MonitorAuthDeps;
  close(): Promise<void>;
}

export async function startMonitor(config: MonitorConfig, options: MonitorOptions): Promise<Monitor> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  const auth = createMonitorAuth(config, { logger, now, argon2: options.argon2 });
  // a corrupt auth.json is reported now, loudly; the service still starts and answers 503 (fail closed)
  await auth.store.read().catch((error: Error) => logger.error({ err: error.message }, 'monitor: auth.json is unusable; protected endpoints answer 503 until it is fixed'));

  const tickets = new TicketStore<{ username: string }>({ now });
  const terminal = createTerminalServer({
    config,
    tickets,
    logger,
    now,
    clientAddress: (req) => clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], auth.isTrustedProxy),
    audit: (event) => {
      if (event.type === 'terminal_refused' && event.reason === 'unauthorized') {
        auth.audit.failure({ rhost: event.rhost, user: null, method: 'terminal', reason: 'bad_ticket' });
      }
    },
  });
  const routes = buildMonitorRoutes({ auth, tickets, logger, terminalUpgrade: terminal.handleUpgrade });

  // server.tls in the configuration wins; otherwise what /api/ssl/configure stored (read at start only)
  const stored = config.server.tls ? null : await readSslSettings(config.data_dir);
  const tls = config.server.tls ?? (stored?.enabled && stored.cert_path && stored.key_path ? { certificate: stored.cert_path, key: stored.key_path } : undefined);
  const listening = await serve({ address: config.server.address, tls, request: routes.request, upgrade: routes.upgrade });
  const { server, port, url } = listening;
  logger.info({ address: url, data_dir: config.data_dir }, 'monitor listening');
  return {
    server,
    url,
    port,
    auth,
    async close() {
      await terminal.close();
      await listening.close();
    },
  };
}
