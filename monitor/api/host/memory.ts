import { HostDataError, percentOf, readProcFile, type ProcOptions } from './proc.ts';

/** Bytes, with the columns of `free -b`. */
export interface MemoryUsage {
  total: number;
  used: number;
  free: number;
  available: number;
  buffers: number;
  /** Page cache plus reclaimable slab: `free`'s "cache" (its buff/cache column is buffers + cached). */
  cached: number;
  usage_percent: number;
}

export interface SwapUsage {
  total: number;
  used: number;
  free: number;
}

/** /proc/meminfo as field → bytes (values given in kB are multiplied by 1024, counts are kept). */
export function parseMeminfo(text: string): Map<string, number> {
  const fields = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([^:]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (match === null) continue;
    const [, name = '', value = '0'] = match;
    fields.set(name, Number(value) * (line.trimEnd().endsWith('kB') ? 1024 : 1));
  }
  return fields;
}

/**
 * The figures `free` (procps-ng ≥ 4.0.1) prints: used = total - available, falling back to
 * total - free when MemAvailable is missing, above MemTotal (seen inside LXC) or the result is negative.
 */
export function memoryFromMeminfo(fields: Map<string, number>): { memory: MemoryUsage; swap: SwapUsage } {
  const field = (name: string): number => fields.get(name) ?? 0;
  if (!fields.has('MemTotal')) throw new HostDataError('/proc/meminfo has no MemTotal');
  const total = field('MemTotal');
  const free = field('MemFree');
  let available = fields.get('MemAvailable') ?? free;
  if (available > total) available = free;
  let used = total - available;
  if (used < 0) used = total - free;
  const swapTotal = field('SwapTotal');
  const swapFree = field('SwapFree');
  return {
    memory: {
      total,
      used,
      free,
      available,
      buffers: field('Buffers'),
      cached: field('Cached') + field('SReclaimable'),
      usage_percent: percentOf(used, total),
    },
    swap: { total: swapTotal, used: Math.max(swapTotal - swapFree, 0), free: swapFree },
  };
}

export async function readMemory(options: ProcOptions = {}): Promise<{ memory: MemoryUsage; swap: SwapUsage }> {
  return memoryFromMeminfo(parseMeminfo(await readProcFile('meminfo', options)));
}
