import { hostname, loadavg, release, uptime } from 'node:os';
import { cpuIdentity, cpuUsagePercent, readCpuTimes, type CpuTimes } from './cpu.ts';
import { readMemory, type MemoryUsage, type SwapUsage } from './memory.ts';
import type { ProcOptions } from './proc.ts';
import { RateSampler } from './sampler.ts';

export interface SystemStatus {
  hostname: string;
  uptime_seconds: number;
  cpu: { usage_percent: number; cores: number; model: string };
  /** 1, 5 and 15 minute load averages. */
  load: [number, number, number];
  memory: MemoryUsage;
  swap: SwapUsage;
  kernel: string;
}

export interface SystemOptions extends ProcOptions {
  /** Keeps the last CPU reading between calls; without one the call samples over ~200 ms. */
  sampler?: { cpu: RateSampler<CpuTimes, number> };
}

/** CPU, load, memory, swap and uptime. CPU use is measured since the sampler's previous reading. */
export async function readSystem(options: SystemOptions = {}): Promise<SystemStatus> {
  const sampler = options.sampler?.cpu ?? new RateSampler();
  const [usage, { memory, swap }] = await Promise.all([
    sampler.read(() => readCpuTimes(options), cpuUsagePercent),
    readMemory(options),
  ]);
  const [one = 0, five = 0, fifteen = 0] = loadavg();
  return {
    hostname: hostname(),
    uptime_seconds: Math.floor(uptime()),
    cpu: { usage_percent: usage, ...cpuIdentity() },
    load: [one, five, fifteen],
    memory,
    swap,
    kernel: release(),
  };
}
