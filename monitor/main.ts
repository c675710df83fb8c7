/** Runs the monitor until SIGTERM/SIGINT. */
import type { Logger } from 'pino';
import { createLogger } from '../lib/logger.ts';
import { startMonitor, type Monitor } from './app.ts';
import type { LoadedMonitorConfig } from './config/load.ts';

export async function runMonitor(loaded: LoadedMonitorConfig, stdout: NodeJS.WritableStream = process.stdout): Promise<Monitor> {
  const logger: Logger = createLogger(loaded.config.log, stdout, 'gatehouse-monitor');
  for (const warning of loaded.warnings) logger.warn(`config: ${warning}`);
  return startMonitor(loaded.config, { logger });
}
