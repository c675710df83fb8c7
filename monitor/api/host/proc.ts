import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GatehouseError } from '../../../lib/errors.ts';

/** A host file is there but not in the shape the kernel writes it. */
export class HostDataError extends GatehouseError {
  declare readonly code: 'host_data_malformed';
  constructor(message: string) {
    super('host_data_malformed', message);
  }
}

export interface ProcOptions {
  /** Where procfs is mounted; tests point it at a directory of fixture files. */
  procRoot?: string;
}

/** The text of `/proc/<name>` (or `<procRoot>/<name>`). */
export function readProcFile(name: string, options: ProcOptions = {}): Promise<string> {
  return readFile(join(options.procRoot ?? '/proc', name), 'utf8');
}

/** `part` as a percentage of `whole`, one decimal; 0 when `whole` is 0. */
export function percentOf(part: number, whole: number): number {
  if (!(whole > 0)) return 0;
  return Math.round((part / whole) * 1000) / 10;
}
