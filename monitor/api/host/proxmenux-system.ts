/**
 * /api/system's flat keys in ProxMenux's shape (its flask_server.py api_system), so the Homepage and
 * Home Assistant recipes written for ProxMenux read this monitor unchanged. Units as ProxMenux's:
 * percentages, GB (1024³, one decimal), °C; `uptime` in seconds, as its README documents it.
 */
import { readProcFile, type ProcOptions } from './proc.ts';
import { listSys, readSysText, sysPath, type SysOptions } from './sysfs.ts';
import type { SystemStatus } from './system.ts';

/** ProxMenux's GB: 1024³ bytes. */
export const GB = 1024 ** 3;

/** Rounded to one decimal, as ProxMenux answers its sizes and temperatures. */
export function oneDecimal(n: number): number {
  return Math.round(n * 10) / 10;
}

/** ProxMenux's order of preference among sensor chips: the CPU's own first, the ACPI zone last. */
const SENSOR_PRIORITY = ['coretemp', 'k10temp', 'cpu_thermal', 'zenpower', 'acpitz'];

/** Each chip's first reading (°C), as psutil.sensors_temperatures lists them: hwmon, else thermal zones. */
async function readSensors(options: SysOptions): Promise<Map<string, number>> {
  const chips = new Map<string, number>();
  for (const entry of await listSys(sysPath(options, 'class/hwmon'))) {
    const dir = sysPath(options, 'class/hwmon', entry);
    const name = (await readSysText(`${dir}/name`)) ?? entry;
    if (chips.has(name)) continue;
    const inputs = (await listSys(dir)).filter((f) => /^temp\d+_input$/.test(f));
    for (const input of inputs) {
      const milli = Number(await readSysText(`${dir}/${input}`));
      if (Number.isFinite(milli)) {
        chips.set(name, milli / 1000);
        break;
      }
    }
  }
  if (chips.size > 0) return chips;
  for (const zone of (await listSys(sysPath(options, 'class/thermal'))).filter((z) => z.startsWith('thermal_zone'))) {
    const dir = sysPath(options, 'class/thermal', zone);
    const milli = Number(await readSysText(`${dir}/temp`));
    const name = (await readSysText(`${dir}/type`)) ?? zone;
    if (Number.isFinite(milli) && !chips.has(name)) chips.set(name, milli / 1000);
  }
  return chips;
}

/** The CPU temperature ProxMenux shows, in °C (one decimal); 0 when the host exposes no sensor, as ProxMenux answers. */
export async function readCpuTemperature(options: SysOptions = {}): Promise<number> {
  const chips = await readSensors(options);
  const preferred = SENSOR_PRIORITY.find((name) => chips.has(name));
  const value = preferred !== undefined ? chips.get(preferred)! : ([...chips.values()].find((v) => v !== 0) ?? 0);
  return oneDecimal(value);
}

/** Physical cores: distinct (physical id, core id) pairs of /proc/cpuinfo; `logical` when it lists none. */
export async function readPhysicalCores(logical: number, options: ProcOptions = {}): Promise<number> {
  let text: string;
  try {
    text = await readProcFile('cpuinfo', options);
  } catch {
    return logical;
  }
  const cores = new Set<string>();
  for (const block of text.split(/\n\s*\n/)) {
    const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(\\S+)`, 'm').exec(block)?.[1];
    const core = field('core id');
    if (core !== undefined) cores.add(`${field('physical id') ?? '0'}:${core}`);
  }
  return cores.size > 0 ? cores.size : logical;
}

export interface ProxMenuxSystemKeys {
  cpu_usage: number;
  memory_usage: number;
  memory_total: number;
  memory_used: number;
  memory_cached: number;
  temperature: number;
  uptime: number;
  load_average: [number, number, number];
  node_id: string;
  timestamp: string;
  cpu_cores: number;
  cpu_threads: number;
  kernel_version: string;
}

/** The flat keys ProxMenux's /api/system answers, from this monitor's reading of the host. */
export function proxmenuxSystemKeys(status: SystemStatus, extra: { temperature: number; physicalCores: number; now: number }): ProxMenuxSystemKeys {
  const { memory } = status;
  return {
    cpu_usage: status.cpu.usage_percent,
    memory_usage: memory.usage_percent,
    memory_total: oneDecimal(memory.total / GB),
    memory_used: oneDecimal(memory.used / GB),
    memory_cached: oneDecimal((memory.cached + memory.buffers) / GB),
    temperature: extra.temperature,
    uptime: status.uptime_seconds,
    load_average: status.load,
    node_id: status.hostname,
    timestamp: new Date(extra.now).toISOString(),
    cpu_cores: extra.physicalCores,
    cpu_threads: status.cpu.cores,
    kernel_version: status.kernel,
  };
}
