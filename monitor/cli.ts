/** `gatehouse monitor …`: run the monitor, check its configuration, or reset its login. */
import { copyFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { takeConfigFiles, UsageError, type CliIO } from '../lib/cli-io.ts';
import { ConfigError } from '../lib/errors.ts';
import { loadMonitorConfig, type LoadedMonitorConfig } from './config/load.ts';
import { monitorJsonSchema } from './config/schema.ts';
import { AUTH_FILE_NAME, AuthStore } from './auth/store.ts';

export const MONITOR_HELP = `Usage: gatehouse monitor [--config F]...            run the monitor (default: config from $GATEHOUSE_MONITOR_CONFIG or built-in defaults)
       gatehouse monitor validate [--config F]...   print 'config: OK' or every problem (exit 2)
       gatehouse monitor schema [--output F]        the JSON Schema of config/monitor.yml
       gatehouse monitor reset-password [--config F]
                                                    forget the monitor's own login and 2FA (keeps the
                                                    JWT secret, API tokens and revocations; backs up
                                                    auth.json first, mode 0600)

Environment overrides: GATEHOUSE_MONITOR_<PATH> (GATEHOUSE_MONITOR_SERVER_ADDRESS=tcp://:8008).
SIGTERM or Ctrl-C stops the monitor cleanly.
`;

/** Reset the interactive login only, as ProxMenux's menu does, but through the store's lock. */
export async function resetMonitorPassword(config: LoadedMonitorConfig['config'], io: Pick<CliIO, 'stdout'>, now = Date.now): Promise<string> {
  const path = join(config.data_dir, AUTH_FILE_NAME);
  const store = new AuthStore({ dataDir: config.data_dir, now });
  await store.read(); // refuses (AuthStoreUnavailable) to touch a corrupt file
  const backup = `${path}.bak-${new Date(now()).toISOString().replace(/[:.]/g, '-')}`;
  await copyFile(path, backup);
  await chmod(backup, 0o600);
  await store.update((draft) => {
    draft.enabled = false;
    draft.configured = false;
    draft.declined = false;
    draft.username = null;
    draft.password_hash = null;
    draft.totp_enabled = false;
    draft.totp_secret = null;
    draft.last_totp_counter = null;
    draft.backup_codes = [];
    draft.totp_pending = null;
    // every session of the old login ends, even one issued in this second (the generation changes too)
    draft.session_generation += 1;
  });
  io.stdout.write(`monitor: the login was reset; the next visit offers setup again, with the new setup code the monitor logs.\nmonitor: backup of the previous ${AUTH_FILE_NAME}: ${backup}\nmonitor: API tokens, revocations and the JWT secret were kept.\n`);
  return backup;
}

/** Returns an exit code, or -1 when a server was started and keeps running. */
export async function runMonitorCommand(args: string[], io: CliIO, env: NodeJS.ProcessEnv): Promise<number> {
  const [first] = args;
  try {
    if (first === '--help' || first === '-h' || first === 'help') {
      io.stdout.write(MONITOR_HELP);
      return 0;
    }
    if (first === 'schema') {
      const text = `${JSON.stringify(monitorJsonSchema(), null, 2)}\n`;
      if (args[1] === '--output' && args[2]) writeFileSync(args[2], text);
      else io.stdout.write(text);
      return 0;
    }
    const sub = first === 'validate' || first === 'reset-password' ? first : null;
    const { files, rest } = takeConfigFiles(sub ? args.slice(1) : args, env.GATEHOUSE_MONITOR_CONFIG);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(MONITOR_HELP);
      return 0;
    }
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
    const loaded = loadMonitorConfig({ files, env });
    if (sub === 'validate') {
      for (const warning of loaded.warnings) io.stderr.write(`warning: ${warning}\n`);
      io.stdout.write('config: OK\n');
      return 0;
    }
    if (sub === 'reset-password') {
      await resetMonitorPassword(loaded.config, io);
      return 0;
    }
    const { runMonitor } = await import('./main.ts');
    const { stopOnSignals } = await import('../lib/shutdown.ts');
    const running = stopOnSignals();
    running.useDeadline(loaded.config.server.shutdown_timeout);
    const monitor = await runMonitor(loaded, io.stdout);
    running.add(() => monitor.close());
    return -1;
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr.write(`${error.problems.join('\n')}\n`);
      return 2;
    }
    if (error instanceof UsageError) {
      io.stderr.write(`gatehouse monitor: ${error.message}\n\n${MONITOR_HELP}`);
      return 2;
    }
    io.stderr.write(`gatehouse monitor: ${(error as Error).message}\n`);
    return 1;
  }
}
