/** Runs the monitor until SIGTERM/SIGINT. */
import type { Logger } from 'pino';
import { join } from 'node:path';
import { createLogger } from '../lib/logger.ts';
import { renderProblem } from '../lib/config-problems.ts';
import { credentialFileWarnings } from '../lib/file-permissions.ts';
import { AUTH_FILE_NAME } from './auth/store.ts';
import { startMonitor, type Monitor } from './app.ts';
import type { LoadedMonitorConfig } from './config/load.ts';

export async function runMonitor(loaded: LoadedMonitorConfig, stdout: NodeJS.WritableStream = process.stdout): Promise<Monitor> {
  const logger: Logger = createLogger(loaded.config.log, stdout, 'gatehouse-monitor');
  for (const warning of loaded.warnings) logger.warn(renderProblem(warning));
  const { config } = loaded;
  const credentialFiles = [
    ...loaded.credentialFiles,
    join(config.data_dir, AUTH_FILE_NAME),
    ...(config.server.tls ? [config.server.tls.key] : []),
    // the log receives the setup code; created 0600, but an existing file keeps its mode
    ...(config.log.file_path ? [config.log.file_path] : []),
  ];
  for (const warning of credentialFileWarnings(credentialFiles)) logger.warn(`permissions: ${warning}`);
  return startMonitor(loaded.config, { logger });
}
