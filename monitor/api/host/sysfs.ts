import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface SysOptions {
  /** Where sysfs is mounted; tests point it at a directory of fixture files. */
  sysRoot?: string;
}

/** `<sysRoot or /sys>/<parts…>`. */
export function sysPath(options: SysOptions, ...parts: string[]): string {
  return join(options.sysRoot ?? '/sys', ...parts);
}

/** A sysfs attribute's text, trimmed; undefined when it is absent or unreadable (sysfs varies by driver). */
export async function readSysText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** A sysfs directory's entries in natural order (hwmon2 before hwmon10); none when absent. */
export async function listSys(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  } catch {
    return [];
  }
}
