/**
 * The monitor's composition root: builds the auth services, the terminal and the route table from the
 * configuration and starts listening. Nothing global: two monitors can run in one process (tests do).
 */
import type { Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { serve } from '../lib/http-server.ts';
import { drainBudget } from '../lib/shutdown.ts';
import { cleanUpInterruptedWrites } from '../lib/fs-atomic.ts';
import { credentialFileWarnings } from '../lib/file-permissions.ts';
import { clientIp } from '../lib/net/client-ip.ts';
import type { Argon2Params } from '../lib/password-hash.ts';
import type { MonitorConfig } from './config/schema.ts';
import { createMonitorAuth, type MonitorAuthDeps } from './auth/deps.ts';
import { readSslSettings } from './auth/ssl-settings.ts';
import { buildMonitorRoutes } from './routes.ts';
import { createTerminalIdentityCheck } from './terminal/identity-check.ts';
import { createTerminalServer, type SessionOwner } from './terminal/server.ts';
import { TicketStore } from './terminal/tickets.ts';

export interface MonitorOptions {
  logger: Logger;
  now?: () => number;
  /** Hash parameters for new passwords (tests make them cheap). */
  argon2?: Partial<Argon2Params>;
  /**
   * Runs `task` every `everyMs` until the returned function is called (default: an unref'd
   * setInterval). Tests pass their own and run the task themselves after moving `now`.
   */
  schedule?: (task: () => Promise<void>, everyMs: number) => () => void;
  /** Replaces the password verifier (tests count or hold the calls). */
  verifyPassword?: (encoded: string, password: string) => Promise<boolean>;
}

function scheduleEvery(task: () => Promise<void>, everyMs: number): () => void {
  const timer = setInterval(() => void task(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

export interface Monitor {
  server: Server;
  url: string;
  port: number;
  auth: MonitorAuthDeps;
  /** The one-time setup code while no login is set up (logged at warn level); null otherwise. */
  setupCode(): string | null;
  close(): Promise<void>;
}

/** How often the monitor looks at auth.json for changes made outside it (reset-password, another instance). */
const STORE_WATCH_MS = 5_000;

export async function startMonitor(config: MonitorConfig, options: MonitorOptions): Promise<Monitor> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  // auth.json, the avatar and the TLS settings are written atomically here: a crash mid-write leaves a temp file
  await cleanUpInterruptedWrites([config.data_dir], logger);
  const auth = createMonitorAuth(config, { logger, now, argon2: options.argon2, ...(options.verifyPassword ? { verifyPassword: options.verifyPassword } : {}) });
  // a corrupt auth.json is reported now, loudly; the service still starts and answers 503 (fail closed)
  const initial = await auth.store
    .read()
    .catch((error: Error) => void logger.error({ err: error.message }, 'monitor: auth.json is unusable; protected endpoints answer 503 until it is fixed'));
  // no login yet: the setup code that authorises creating one goes to the log now, where only an operator reads it
  if (initial) auth.setupCode.refresh(initial);

  const tickets = new TicketStore<SessionOwner>({ now });
  const terminal = createTerminalServer({
    config,
    logger,
    now,
    clientAddress: (req) => clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], auth.isTrustedProxy),
    audit: (event) => {
      if (event.type === 'terminal_refused' && event.reason === 'unauthorized') {
        auth.audit.failure({ rhost: event.rhost, user: null, method: 'terminal', reason: 'bad_ticket' });
      }
    },
  });
  // a terminal lives no longer than the identity that opened it: checked again on every tick and on every change made here
  const terminalIdentity = createTerminalIdentityCheck({ terminal, now, refreshIntervalMs: config.terminal.refresh_interval * 1000 });
  let checking: Promise<void> = Promise.resolve();
  const checkAuthState = (): Promise<void> => {
    checking = checking.then(async () => {
      const state = await auth.store.read().catch(() => null); // unusable: every request reports it (503); token terminals close
      if (state) auth.setupCode.refresh(state); // changed outside this process (reset-password): log a new setup code
      await terminalIdentity.recheck(state);
    }).catch((error: unknown) => logger.error({ err: error }, 'monitor: checking the open terminals failed'));
    return checking;
  };
  const routes = buildMonitorRoutes({ auth, tickets, terminal, terminalIdentity, logger, onCredentialEnded: () => void checkAuthState() });
  const stopWatch = (options.schedule ?? scheduleEvery)(checkAuthState, Math.min(STORE_WATCH_MS, config.terminal.refresh_interval * 1000));

  // server.tls in the configuration wins; otherwise what /api/ssl/configure stored (read at start only)
  const stored = config.server.tls ? null : await readSslSettings(config.data_dir);
  const tls = config.server.tls ?? (stored?.enabled && stored.cert_path && stored.key_path ? { certificate: stored.cert_path, key: stored.key_path } : undefined);
  // the configured key is checked with the other credential files (main.ts); one chosen from the dashboard here
  if (!config.server.tls && tls) for (const warning of credentialFileWarnings([tls.key])) logger.warn(`permissions: ${warning}`);
  let listening: Awaited<ReturnType<typeof serve>>;
  try {
    listening = await serve({ address: config.server.address, tls, request: routes.request, upgrade: routes.upgrade });
  } catch (error) {
    // a monitor that cannot listen leaves nothing running behind it
    stopWatch();
    await terminal.close();
    throw error;
  }
  const { server, port, url } = listening;
  logger.info({ address: url, data_dir: config.data_dir }, 'monitor listening');
  return {
    server,
    url,
    port,
    auth,
    setupCode: () => auth.setupCode.current(),
    async close() {
      stopWatch();
      await terminal.close();
      await listening.close(drainBudget(config.server.shutdown_timeout));
    },
  };
}
