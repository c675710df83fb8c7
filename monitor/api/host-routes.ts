import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import packageJson from '../../package.json' with { type: 'json' };
import { readNetwork } from './host/network.ts';
import type { ProcOptions } from './host/proc.ts';
import { createHostMetricsRegistry } from './host/prometheus.ts';
import type { PasswordCheckStats } from '../../lib/password-checks.ts';
import { registerPasswordCheckMetrics } from '../../lib/password-checks-metrics.ts';
import { createHostSampler, type HostSampler } from './host/sampler.ts';
import { readStorage } from './host/storage.ts';
import { reuseFor } from './host/reuse.ts';
import { readHealth, systemInfo } from './host/system-info.ts';
import { readSystem } from './host/system.ts';
import { ROUTING } from '../request-path.ts';

/** Every path this router answers (all GET; HEAD follows). */
export const HOST_PATHS = ['/api/system-info', '/api/health', '/api/system', '/api/storage', '/api/network', '/api/prometheus'] as const;

/** The paths to mount without authentication: hostname, uptime, a health word, and liveness. */
export const PUBLIC_HOST_PATHS: readonly (typeof HOST_PATHS)[number][] = ['/api/system-info', '/api/health'];

export interface HostRouterOptions extends ProcOptions {
  logger: Logger;
  /** Reported by /api/health; defaults to package.json's version. */
  version?: string;
  now?: () => number;
  /** CPU and network readings shared by the JSON routes (the Prometheus registry keeps its own). */
  sampler?: HostSampler;
  registry?: Registry;
  /** The password-check limiter's state, exported in /api/prometheus (queue depth, running, refusals). */
  passwordChecks?: () => PasswordCheckStats;
  /**
   * How long the public health figure is reused. It stats every mount, and the route needs no
   * login, so a caller must not be able to make the host do that on every request.
   */
  healthCacheMs?: number;
}

/**
 * The host data routes. This router does not authenticate: the caller mounts it behind the auth
 * middleware, leaving only PUBLIC_HOST_PATHS open.
 */
export function createHostRouter(options: HostRouterOptions): express.Router {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const version = options.version ?? packageJson.version;
  const proc: ProcOptions = options.procRoot === undefined ? {} : { procRoot: options.procRoot };
  const sampler = options.sampler ?? createHostSampler({ now });
  const registry = options.registry ?? createHostMetricsRegistry({ ...proc, now });
  if (options.passwordChecks) registerPasswordCheckMetrics(registry, 'gatehouse_monitor_', options.passwordChecks);
  const health = reuseFor(options.healthCacheMs ?? 30_000, now, () => readHealth(proc));

  const router = express.Router(ROUTING);
  // live figures, and most of them only for a logged-in user: no cache may keep them
  router.use([...HOST_PATHS], (_req: Request, res: Response, next: NextFunction) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  router.get('/api/system-info', async (_req, res) => {
    res.json(await systemInfo({ now, health: await health() }));
  });
  router.get('/api/health', (_req, res) => {
    res.json({ status: 'healthy', timestamp: new Date(now()).toISOString(), version });
  });
  router.get('/api/system', async (_req, res) => {
    res.json(await readSystem({ ...proc, sampler }));
  });
  router.get('/api/storage', async (_req, res) => {
    res.json(await readStorage(proc));
  });
  router.get('/api/network', async (_req, res) => {
    res.json(await readNetwork({ ...proc, sampler }));
  });
  router.get('/api/prometheus', async (_req, res) => {
    const text = await registry.metrics();
    res.type(registry.contentType).send(text);
  });

  // fail closed once, here: the reason goes to the log, the client learns only that it failed
  router.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    logger.error({ err: error, path: req.path }, 'host data could not be read');
    res.status(500).json({ error: 'host_data_unavailable', message: 'Host data could not be read.' });
  });
  return router;
}
