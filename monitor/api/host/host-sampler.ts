/**
 * The readings a long-lived server keeps between requests, one sampler per counter family. Apart from
 * sampler.ts so that the readers (cpu, network) can name their own sampler without a cycle.
 */
import type { CpuTimes } from './cpu.ts';
import type { NetDevCounters, NetworkRates } from './network.ts';
import { RateSampler, type RateSamplerOptions } from './sampler.ts';

export interface HostSampler {
  cpu: RateSampler<CpuTimes, number>;
  network: RateSampler<NetDevCounters, NetworkRates>;
}

export function createHostSampler(options: RateSamplerOptions = {}): HostSampler {
  return { cpu: new RateSampler(options), network: new RateSampler(options) };
}
