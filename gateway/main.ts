/** Runs the gateway until SIGTERM/SIGINT; SIGHUP reloads the users file. */
import type { Logger } from 'pino';
import { startGateway } from './app.ts';
import type { LoadedConfig } from './config/load.ts';
import { createLogger } from '../lib/logger.ts';

export async function runGateway(loaded: LoadedConfig, stdout: NodeJS.WritableStream = process.stdout): Promise<void> {
  const logger: Logger = createLogger(loaded.config.log, stdout);
  // anything weaker than the defaults is said out loud, every start
  for (const warning of loaded.warnings) logger.warn(`config: ${warning}`);
  const gateway = await startGateway(loaded.config, { logger });
  const setupUrl = gateway.setupUrl();
  if (setupUrl) {
    logger.warn(`first run: no user exists yet. Create the administrator at ${setupUrl}`);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    gateway.close().then(
      () => process.exit(0),
      (error: Error) => {
        logger.error({ err: error.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    gateway.users.reload().then((result) => logger.info({ result: result.status }, 'SIGHUP: users file reloaded'));
  });
}
