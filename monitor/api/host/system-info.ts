import { hostname, uptime } from 'node:os';
import { readMemory } from './memory.ts';
import type { ProcOptions } from './proc.ts';
import { readStorage } from './storage.ts';

export type HealthStatus = 'healthy' | 'warning' | 'critical';

export interface Health {
  status: HealthStatus;
  summary: string;
}

/** The public answer: nothing beyond what a status page shows (no mountpoints, addresses or versions). */
export interface SystemInfo {
  hostname: string;
  uptime_seconds: number;
  /** "Xd Yh Zm" */
  uptime: string;
  health: Health;
  timestamp: string;
}

/** Usage above `warning` percent is a warning, above `critical` critical. */
export const HEALTH_THRESHOLDS = { warning: 90, critical: 97 } as const;

export function formatUptime(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  return `${Math.floor(minutes / 1440)}d ${Math.floor((minutes % 1440) / 60)}h ${minutes % 60}m`;
}

function levelOf(percent: number): HealthStatus {
  if (percent > HEALTH_THRESHOLDS.critical) return 'critical';
  if (percent > HEALTH_THRESHOLDS.warning) return 'warning';
  return 'healthy';
}

const SEVERITY: Record<HealthStatus, number> = { healthy: 0, warning: 1, critical: 2 };

function filesystems(count: number): string {
  return count === 1 ? '1 filesystem' : `${count} filesystems`;
}

/** Health from memory use and each filesystem's use; the summary counts filesystems, never names them. */
export function evaluateHealth(usage: { memoryPercent: number; filesystemPercents: number[] }): Health {
  const memory = levelOf(usage.memoryPercent);
  const disks = usage.filesystemPercents.map(levelOf);
  const status = [memory, ...disks].reduce((worst, level) => (SEVERITY[level] > SEVERITY[worst] ? level : worst), 'healthy');
  const problems: string[] = [];
  if (memory !== 'healthy') problems.push(`memory use above ${HEALTH_THRESHOLDS[memory]}%`);
  const critical = disks.filter((level) => level === 'critical').length;
  const warning = disks.filter((level) => level === 'warning').length;
  if (critical > 0) problems.push(`${filesystems(critical)} above ${HEALTH_THRESHOLDS.critical}% full`);
  if (warning > 0) problems.push(`${filesystems(warning)} above ${HEALTH_THRESHOLDS.warning}% full`);
  return { status, summary: problems.length === 0 ? 'All systems operational' : problems.join('; ') };
}

export async function readHealth(options: ProcOptions = {}): Promise<Health> {
  const [{ memory }, { filesystems }] = await Promise.all([readMemory(options), readStorage(options)]);
  return evaluateHealth({ memoryPercent: memory.usage_percent, filesystemPercents: filesystems.map((f) => f.usage_percent) });
}

export interface SystemInfoOptions extends ProcOptions {
  now?: () => number;
  /** A health figure computed earlier (the public route caches it); read afresh when absent. */
  health?: Health;
}

export async function systemInfo(options: SystemInfoOptions = {}): Promise<SystemInfo> {
  const health = options.health ?? (await readHealth(options));
  const seconds = Math.floor(uptime());
  return {
    hostname: hostname(),
    uptime_seconds: seconds,
    uptime: formatUptime(seconds),
    health,
    timestamp: new Date((options.now ?? Date.now)()).toISOString(),
  };
}
