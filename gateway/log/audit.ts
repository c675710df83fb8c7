/**
 * One line per authentication event, in the form Fail2Ban's filters read:
 * `gatehouse-auth: authentication failure; rhost=<ip> user=<name> reason=<why>`.
 */
import type { Logger } from 'pino';
import { logField } from '../../lib/log-field.ts';

export interface AuthEvent {
  rhost: string;
  user: string;
  /** How the credential arrived: portal (1fa), basic, … */
  method: string;
  reason?: string;
}

export interface AuditLog {
  success(event: AuthEvent): void;
  failure(event: AuthEvent & { reason: string }): void;
  /** Not checked at all (too many checks in flight): other words than `failure`, so Fail2Ban does not count it. */
  refused(event: AuthEvent & { reason: string }): void;
  /** The credential was right but the session could not be saved: no login happened (not a failure for Fail2Ban). */
  notSaved(event: AuthEvent & { reason: string }): void;
  /**
   * A change to an account or a message sent about it (a device added, a code mailed, a reset, a mail
   * that could not be sent): `gatehouse-account: <what>; …`, never counted by Fail2Ban.
   */
  account(event: AccountEvent): void;
}

export interface AccountEvent {
  rhost: string;
  user: string;
  /** what happened, in words: `totp added`, `one-time code sent`, `mail not sent` */
  what: string;
  detail?: string;
  /** a failure is logged at warn */
  failed?: boolean;
}

export function createAuditLog(logger: Logger): AuditLog {
  const audit = logger.child({ audit: true });
  return {
    success(e) {
      audit.info(`gatehouse-auth: authentication success; rhost=${logField(e.rhost)} user=${logField(e.user)} method=${logField(e.method)}`);
    },
    notSaved(e) {
      audit.warn(`gatehouse-auth: authentication success but no session; rhost=${logField(e.rhost)} user=${logField(e.user)} method=${logField(e.method)} reason=${logField(e.reason)}`);
    },
    failure(e) {
      audit.warn(`gatehouse-auth: authentication failure; rhost=${logField(e.rhost)} user=${logField(e.user)} method=${logField(e.method)} reason=${logField(e.reason)}`);
    },
    account(e) {
      const line = `gatehouse-account: ${e.what}; rhost=${logField(e.rhost)} user=${logField(e.user)}${e.detail === undefined ? '' : ` detail=${logField(e.detail)}`}`;
      if (e.failed) audit.warn(line);
      else audit.info(line);
    },
    refused(e) {
      audit.warn(`gatehouse-auth: authentication not checked; rhost=${logField(e.rhost)} user=${logField(e.user)} method=${logField(e.method)} reason=${logField(e.reason)}`);
    },
  };
}
