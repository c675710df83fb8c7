import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { reuseFor } from './reuse.ts';
import { readNetwork, type NetworkStatus } from './network.ts';
import type { ProcOptions } from './proc.ts';
import { createHostSampler, type HostSampler } from './host-sampler.ts';
import { readStorage, type StorageStatus } from './storage.ts';
import { readSystem, type SystemStatus } from './system.ts';

const PREFIX = 'gatehouse_monitor_';

/** Every metric of a scrape comes from one reading; a second scrape within this window reuses it. */
const SNAPSHOT_REUSE_MS = 1_000;

export interface HostMetricsOptions extends ProcOptions {
  /** Keeps the scraper's own CPU and network readings, so rates cover the scrape interval. */
  sampler?: HostSampler;
  now?: () => number;
  /** Also export prom-client's process metrics (heap, event loop lag, file descriptors). Off by default. */
  processMetrics?: boolean;
}

interface Snapshot {
  system: SystemStatus;
  storage: StorageStatus;
  network: NetworkStatus;
}

/** A registry of its own (never prom-client's global one) whose host metrics are read on each scrape. */
export function createHostMetricsRegistry(options: HostMetricsOptions = {}): Registry {
  const registry = new Registry();
  const sampler = options.sampler ?? createHostSampler({ now: options.now });
  const snapshot = reuseFor(SNAPSHOT_REUSE_MS, options.now ?? Date.now, async (): Promise<Snapshot> => {
    const [system, storage, network] = await Promise.all([
      readSystem({ ...options, sampler }),
      readStorage(options),
      readNetwork({ ...options, sampler }),
    ]);
    return { system, storage, network };
  });

  new Gauge({
    name: `${PREFIX}cpu_usage_percent`,
    help: 'CPU time spent not idle since the previous scrape, in percent of all logical CPUs.',
    registers: [registry],
    async collect() {
      this.set((await snapshot()).system.cpu.usage_percent);
    },
  });

  new Gauge({
    name: `${PREFIX}load_average`,
    help: 'System load average over the period.',
    labelNames: ['period'],
    registers: [registry],
    async collect() {
      const [one, five, fifteen] = (await snapshot()).system.load;
      this.set({ period: '1m' }, one);
      this.set({ period: '5m' }, five);
      this.set({ period: '15m' }, fifteen);
    },
  });

  new Gauge({
    name: `${PREFIX}memory_bytes`,
    help: 'Memory and swap in bytes, as free reports them (kind: total, used, free, available, buffers, cached, swap_total, swap_used, swap_free).',
    labelNames: ['kind'],
    registers: [registry],
    async collect() {
      const { memory, swap } = (await snapshot()).system;
      for (const kind of ['total', 'used', 'free', 'available', 'buffers', 'cached'] as const) this.set({ kind }, memory[kind]);
      for (const kind of ['total', 'used', 'free'] as const) this.set({ kind: `swap_${kind}` }, swap[kind]);
    },
  });

  new Gauge({
    name: `${PREFIX}filesystem_bytes`,
    help: 'Filesystem size, used and available bytes, as df -B1 reports them.',
    labelNames: ['mountpoint', 'kind'],
    registers: [registry],
    async collect() {
      const { filesystems } = (await snapshot()).storage;
      this.reset(); // an unmounted filesystem disappears instead of repeating its last value
      for (const fs of filesystems) {
        this.set({ mountpoint: fs.mountpoint, kind: 'size' }, fs.total);
        this.set({ mountpoint: fs.mountpoint, kind: 'used' }, fs.used);
        this.set({ mountpoint: fs.mountpoint, kind: 'available' }, fs.available);
      }
    },
  });

  new Counter({
    name: `${PREFIX}network_bytes_total`,
    help: 'Bytes received and transmitted per interface since it came up (from /proc/net/dev).',
    labelNames: ['interface', 'direction'],
    registers: [registry],
    async collect() {
      const { interfaces } = (await snapshot()).network;
      // the kernel keeps the count; the counter is rebuilt from it on every scrape
      this.reset();
      for (const iface of interfaces) {
        this.inc({ interface: iface.name, direction: 'receive' }, iface.rx.bytes);
        this.inc({ interface: iface.name, direction: 'transmit' }, iface.tx.bytes);
      }
    },
  });

  new Gauge({
    name: `${PREFIX}uptime_seconds`,
    help: 'Seconds since the host booted.',
    registers: [registry],
    async collect() {
      this.set((await snapshot()).system.uptime_seconds);
    },
  });

  if (options.processMetrics === true) collectDefaultMetrics({ register: registry, prefix: PREFIX });
  return registry;
}
