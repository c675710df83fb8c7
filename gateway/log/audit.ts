/**
 * One line per authentication event, in the form Fail2Ban's filters read:
 * `gatehouse-auth: authentication failure; rhost=<ip> user=<name> reason=<why>`.
 */
import type { Logger } from 'pino';

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
}

/**
 * For any client-supplied value put into a log message (here and elsewhere, e.g. the regulator):
 * no whitespace, control characters, '=' or ';' an attacker could use to forge fields or lines,
 * at most 128 characters, '-' when empty.
 */
export function sanitiseLogValue(value: string): string {
  const clean = value.replace(/[\s\p{Cc}=;]/gu, '_').slice(0, 128);
  return clean === '' ? '-' : clean;
}

const field = sanitiseLogValue;

export function createAuditLog(logger: Logger): AuditLog {
  const audit = logger.child({ audit: true });
  return {
    success(e) {
      audit.info(`gatehouse-auth: authentication success; rhost=${field(e.rhost)} user=${field(e.user)} method=${field(e.method)}`);
    },
    failure(e) {
      audit.warn(`gatehouse-auth: authentication failure; rhost=${field(e.rhost)} user=${field(e.user)} method=${field(e.method)} reason=${field(e.reason)}`);
    },
  };
}
