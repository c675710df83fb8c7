/**
 * `gatehouse config validate --check`: the startup checks run against what the configuration names.
 * It connects, but never migrates and never writes: storage is read (SQLite read-only, PostgreSQL in
 * read-only transactions), Redis is pinged, the notifier's file is looked at, not created, and the SMTP server is asked
 * whether it would take a message (MAIL FROM, RCPT TO), which is then reset, never sent.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { CliIO } from '../../lib/cli-io.ts';
import { loadTrustedCertificates, type TrustedCertificates } from '../../lib/net/trusted-cas.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { openNotifier } from '../notification/open.ts';
import { openSessionStore, redisEndpoint } from '../session/store.ts';
import { describeResult, runStartupChecks, STARTUP_CHECK_EXIT_CODE, type StartupCheck } from '../startup-checks.ts';
import { checkStorage } from '../storage/open.ts';
import { storageOptionsFromConfig } from '../storage/options.ts';
import { openUsers } from '../users/open.ts';

/** One check per provider the configuration names, each opening what it checks and closing it again. */
export function configuredChecks(config: GatewayConfig): StartupCheck[] {
  // the lines printed are the report; the providers' own logging would repeat them
  const logger = pino({ level: 'silent' });
  const redis = config.session.redis;
  const notifierCfg = config.notifier;
  // certificates_directory, read once for the three checks that connect (a bad file fails each of them, naming it)
  let trustedOnce: Promise<TrustedCertificates> | undefined;
  const trusted = () => (trustedOnce ??= loadTrustedCertificates(config.certificates_directory));
  return [
    ...(config.certificates_directory
      ? [{ name: 'certificates_directory', run: async () => `${(await trusted()).added.length} CA certificate(s) trusted besides the system's, from ${config.certificates_directory}` }]
      : []),
    { name: 'storage', run: async () => checkStorage(storageOptionsFromConfig(config.storage, await trusted()), logger) },
    {
      name: 'session store',
      async run() {
        if (!redis) return 'in memory: nothing to connect to';
        // the secret only seals sessions, and none is read or written here
        const sessions = await openSessionStore(redis, config.session.secret ?? randomBytes(32).toString('base64url'), logger, Date.now, await trusted());
        try {
          await sessions.startupCheck();
        } finally {
          await sessions.close();
        }
        return `${redisEndpoint(redis)} answers`;
      },
    },
    {
      name: 'users',
      async run() {
        // read only: a missing users file is reported, not created, and nothing watches it
        const { users } = await openUsers(config.authentication_backend, { logger, watch: false, create: false, trusted: await trusted() });
        try {
          await users.startupCheck();
        } finally {
          await users.close();
        }
        const ldap = config.authentication_backend.ldap;
        if (ldap) return `directory ${ldap.address ?? ''} (${ldap.implementation})`;
        return `users file ${config.authentication_backend.file?.path ?? ''}`.trimEnd();
      },
    },
    {
      name: 'notifier',
      async run() {
        if (!notifierCfg || (!notifierCfg.filesystem && !notifierCfg.smtp)) return 'none configured: nothing can be mailed';
        if (notifierCfg.disable_startup_check) return 'not checked: notifier.disable_startup_check is true';
        const notifier = openNotifier(notifierCfg, { trusted: await trusted() });
        await notifier?.startupCheck();
        if (notifierCfg.filesystem) return `filesystem: ${notifierCfg.filesystem.filename}`;
        const smtp = notifierCfg.smtp!;
        return `smtp: ${smtp.address} accepts mail from ${smtp.sender} to ${smtp.startup_check_address}`;
      },
    },
  ];
}

/** Prints one line per provider (ok on stdout, failed on stderr); STARTUP_CHECK_EXIT_CODE when any failed. */
export async function runConfigCheck(config: GatewayConfig, io: CliIO): Promise<number> {
  const results = await runStartupChecks(configuredChecks(config));
  for (const result of results) (result.ok ? io.stdout : io.stderr).write(`${describeResult(result)}\n`);
  return results.every((result) => result.ok) ? 0 : STARTUP_CHECK_EXIT_CODE;
}
