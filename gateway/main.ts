/** Runs the gateway until SIGTERM/SIGINT; SIGHUP reloads the users file. */
import type { Logger } from 'pino';
import { startGateway, type Gateway } from './app.ts';
import type { LoadedConfig } from './config/load.ts';
import { createLogger } from '../lib/logger.ts';
import { renderProblem } from '../lib/config-problems.ts';
import { credentialFileWarnings } from '../lib/file-permissions.ts';

/** Start the gateway from a loaded configuration, saying every warning and the first-run link. */
export async function runGateway(loaded: LoadedConfig, stdout: NodeJS.WritableStream = process.stdout): Promise<{ gateway: Gateway; logger: Logger }> {
  const logger: Logger = createLogger(loaded.config.log, stdout);
  // anything weaker than the defaults is said out loud, every start
  for (const warning of loaded.warnings) logger.warn(renderProblem(warning));
  const { config } = loaded;
  // the users file is checked by the user provider's startupCheck, when the gateway starts
  const credentialFiles = [
    ...loaded.credentialFiles,
    ...(config.identity_assertion ? [config.identity_assertion.key_path] : []),
    ...(config.server.tls ? [config.server.tls.key] : []),
    // the log receives the first-run setup link with its token; created 0600, but an existing file keeps its mode
    ...(config.log.file_path ? [config.log.file_path] : []),
  ];
  for (const warning of credentialFileWarnings(credentialFiles)) logger.warn(`permissions: ${warning}`);
  const gateway = await startGateway(loaded.config, { logger });
  const setupUrl = gateway.setupUrl();
  if (setupUrl) logger.warn(`first run: no user exists yet. Create the administrator at ${setupUrl}`);
  process.on('SIGHUP', () => {
    gateway.users
      .reload?.()
      .then((result) => logger.info({ result: result.status }, 'SIGHUP: users file reloaded'))
      .catch((error: Error) => logger.error({ err: error.message }, 'SIGHUP: users reload failed; keeping the last good version'));
  });
  return { gateway, logger };
}

/** Shutdown on signals is shared with the monitor (lib/shutdown.ts). */
export { stopOnSignals } from '../lib/shutdown.ts';
