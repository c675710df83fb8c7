import { availableParallelism, cpus } from 'node:os';
import { HostDataError, percentOf, readProcFile, type ProcOptions } from './proc.ts';

/** Cumulative jiffies from the `cpu` line of /proc/stat. */
export interface CpuTimes {
  busy: number;
  total: number;
}

/**
 * The aggregate `cpu` line: user nice system idle iowait irq softirq steal [guest guest_nice].
 * guest and guest_nice are already inside user and nice, so they are not added again (as top does).
 */
export function parseCpuTimes(statText: string): CpuTimes {
  const line = statText.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) throw new HostDataError('/proc/stat has no aggregate cpu line');
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

export async function readCpuTimes(options: ProcOptions = {}): Promise<CpuTimes> {
  return parseCpuTimes(await readProcFile('stat', options));
}

/** Share of CPU time spent not idle between two readings, in percent (one decimal). */
export function cpuUsagePercent(before: CpuTimes, after: CpuTimes): number {
  const busy = after.busy - before.busy;
  if (busy < 0) return 0; // counters went backwards (CPU hot-unplugged): no honest figure for this window
  return Math.min(percentOf(busy, after.total - before.total), 100);
}

/** Logical CPUs and the model name as the kernel reports them. */
export function cpuIdentity(): { cores: number; model: string } {
  const list = cpus();
  // some container runtimes hide /proc/cpuinfo, leaving os.cpus() empty
  return { cores: list.length || availableParallelism(), model: list[0]?.model.trim() || 'unknown' };
}
