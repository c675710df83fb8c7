/**
 * The host data handlers: hostname and health, CPU, memory, storage, network and the Prometheus text.
 * They do not authenticate: the route table puts each behind its guard (only system-info and health
 * are PUBLIC). Each answers no-store and fails closed on its own: the reason goes to the log, the
 * client learns only that the host data could not be read.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import packageJson from '../../package.json' with { type: 'json' };
import type { PasswordCheckStats } from '../../lib/password-checks.ts';
import { registerPasswordCheckMetrics } from '../../lib/password-checks-metrics.ts';
import { createHostSampler, type HostSampler } from './host/host-sampler.ts';
import { readNetwork } from './host/network.ts';
import type { ProcOptions } from './host/proc.ts';
import { createHostMetricsRegistry } from './host/prometheus.ts';
import { reuseFor } from './host/reuse.ts';
import { readStorage } from './host/storage.ts';
import { proxmenuxSystemKeys, readCpuTemperature, readPhysicalCores } from './host/proxmenux-system.ts';
import { readNetworkSummary, readStorageSummary } from './host/proxmenux-summaries.ts';
import type { SysOptions } from './host/sysfs.ts';
import { readHealth, systemInfo } from './host/system-info.ts';
import { readSystem } from './host/system.ts';

export interface HostHandlers {
  systemInfo: RequestHandler;
  health: RequestHandler;
  system: RequestHandler;
  storage: RequestHandler;
  network: RequestHandler;
  /** ProxMenux's /api/storage/summary and /api/network/summary, for its Homepage and Home Assistant recipes. */
  storageSummary: RequestHandler;
  networkSummary: RequestHandler;
  prometheus: RequestHandler;
}

export interface HostHandlerOptions extends ProcOptions, SysOptions {
  logger: Logger;
  /** Reported by /api/health; defaults to package.json's version. */
  version?: string;
  now?: () => number;
  /** CPU and network readings shared by the JSON handlers (the Prometheus registry keeps its own). */
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

export function createHostHandlers(options: HostHandlerOptions): HostHandlers {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const version = options.version ?? packageJson.version;
  const proc: ProcOptions = options.procRoot === undefined ? {} : { procRoot: options.procRoot };
  const sys: SysOptions = options.sysRoot === undefined ? {} : { sysRoot: options.sysRoot };
  const sampler = options.sampler ?? createHostSampler({ now });
  const registry = options.registry ?? createHostMetricsRegistry({ ...proc, now });
  if (options.passwordChecks) registerPasswordCheckMetrics(registry, 'gatehouse_monitor_', options.passwordChecks);
  const health = reuseFor(options.healthCacheMs ?? 30_000, now, () => readHealth(proc));

  // live figures, most of them only for a signed-in user: no cache may keep them
  const hostData = (answer: (res: Response) => Promise<void> | void): RequestHandler => async (req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store');
    try {
      await answer(res);
    } catch (error) {
      if (res.headersSent) throw error;
      logger.error({ err: error, path: req.path }, 'host data could not be read');
      res.status(500).json({ error: 'host_data_unavailable', message: 'Host data could not be read.' });
    }
  };

  return {
    systemInfo: hostData(async (res) => void res.json(await systemInfo({ now, health: await health() }))),
    health: hostData((res) => void res.json({ status: 'healthy', timestamp: new Date(now()).toISOString(), version })),
    system: hostData(async (res) => {
      const status = await readSystem({ ...proc, sampler });
      const [temperature, physicalCores] = await Promise.all([readCpuTemperature(sys), readPhysicalCores(status.cpu.cores, proc)]);
      // this monitor's own shape, and ProxMenux's flat keys beside it (no name is in both)
      res.json({ ...status, ...proxmenuxSystemKeys(status, { temperature, physicalCores, now: now() }) });
    }),
    storage: hostData(async (res) => void res.json(await readStorage(proc))),
    network: hostData(async (res) => void res.json(await readNetwork({ ...proc, sampler }))),
    storageSummary: hostData(async (res) => void res.json(await readStorageSummary({ ...proc, ...sys }))),
    networkSummary: hostData(async (res) => void res.json(await readNetworkSummary({ ...proc, ...sys }))),
    prometheus: hostData(async (res) => {
      const text = await registry.metrics();
      res.type(registry.contentType).send(text);
    }),
  };
}
