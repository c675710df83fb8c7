/**
 * The monitor's audit log: one line per authentication event, appended to `audit_log`
 * (default `<data_dir>/auth.log`, created 0600) in the form the shipped Fail2Ban filter reads:
 *   2026-05-01T10:00:00.000Z gatehouse-monitor: authentication failure; rhost=192.0.2.7 user=admin reason=bad_password
 * Only "authentication failure" lines are meant for Fail2Ban; successes, refused (stale) tokens and
 * rate-limit notices use other words. Each event also goes to the pino logger.
 */
import { logField } from '../../lib/log-field.ts';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';

export interface AuditEvent {
  rhost: string;
  user?: string | null;
  /** How the credential arrived: login, setup, basic, remote_user, … */
  method?: string;
  reason?: string;
}

export interface AuditLog {
  success(event: AuditEvent): void;
  failure(event: AuditEvent & { reason: string }): void;
  /** A bearer token that was refused (expired, revoked): normal for open dashboards, so not a "failure". */
  tokenRefused(event: AuditEvent & { reason: string }): void;
  rateLimited(event: AuditEvent & { retryAfterSeconds: number }): void;
  /** Resolves once every line so far is on disk. */
  flush(): Promise<void>;
}


export interface AuditLogOptions {
  path: string;
  logger: Logger;
  now?: () => number;
}

export function createAuditLog(options: AuditLogOptions): AuditLog {
  const { path } = options;
  const now = options.now ?? Date.now;
  const logger = options.logger.child({ audit: true });
  let pending: Promise<void> = mkdir(dirname(path), { recursive: true, mode: 0o700 }).then(
    () => {},
    () => {},
  );

  const write = (text: string): void => {
    const line = `${new Date(now()).toISOString()} gatehouse-monitor: ${text}\n`;
    pending = pending
      .then(() => appendFile(path, line, { mode: 0o600, flag: 'a' }))
      .catch((error: unknown) => {
        logger.error({ err: (error as Error).message, path }, 'cannot write the audit log');
      });
  };

  const who = (e: AuditEvent) => `rhost=${logField(e.rhost)} user=${logField(e.user)}`;
  const how = (e: AuditEvent) => (e.method ? ` method=${logField(e.method)}` : '');

  return {
    success(e) {
      logger.info({ rhost: e.rhost, user: e.user, method: e.method }, 'authentication success');
      write(`authentication success; ${who(e)}${how(e)}`);
    },
    failure(e) {
      logger.warn({ rhost: e.rhost, user: e.user, method: e.method, reason: e.reason }, 'authentication failure');
      write(`authentication failure; ${who(e)} reason=${logField(e.reason)}${how(e)}`);
    },
    tokenRefused(e) {
      logger.info({ rhost: e.rhost, user: e.user, method: e.method, reason: e.reason }, 'token refused');
      write(`token refused; ${who(e)} reason=${logField(e.reason)}${how(e)}`);
    },
    rateLimited(e) {
      logger.warn({ rhost: e.rhost, user: e.user, method: e.method, retry_after: e.retryAfterSeconds }, 'rate limit exceeded');
      write(`rate limit exceeded; ${who(e)} retry_after=${e.retryAfterSeconds}${how(e)}`);
    },
    flush: () => pending,
  };
}
