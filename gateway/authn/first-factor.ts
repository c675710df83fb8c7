/**
 * The one password check every entrance uses (portal login, Basic credentials): regulation first,
 * then the backend, then the attempt is recorded and audited. A banned user is answered exactly like
 * a wrong password, and the password is still verified so the timing says nothing either.
 */
import type { AuditLog } from '../log/audit.ts';
import type { GatewayMetrics } from '../metrics/metrics.ts';
import type { Regulator } from '../regulation/regulator.ts';
import type { UserDetails, UserProvider } from '../users/provider.ts';

export interface FirstFactorAttempt {
  username: string;
  password: string;
  ip: string;
  method: 'portal' | 'basic';
  requestUri: string;
  requestMethod: string;
  /** The caller audits the success itself once the session it makes is saved (a portal login). */
  deferSuccessAudit?: boolean;
}

export type FirstFactorResult = { ok: true; user: UserDetails } | { ok: false };

export interface FirstFactor {
  verify(attempt: FirstFactorAttempt): Promise<FirstFactorResult>;
}

const MAX_USERNAME = 256;
const MAX_PASSWORD = 1024;

export interface FirstFactorOptions {
  metrics?: GatewayMetrics;
  /** Every failure is answered no sooner than this after the attempt began, whatever failed. */
  minFailureDelayMs: number;
  now?: () => number;
}

export function createFirstFactor(users: UserProvider, regulator: Regulator, audit: AuditLog, options: FirstFactorOptions): FirstFactor {
  const now = options.now ?? Date.now;
  const fail = async (startedAt: number): Promise<FirstFactorResult> => {
    const wait = startedAt + options.minFailureDelayMs - now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return { ok: false };
  };
  return {
    async verify(a) {
      const startedAt = now();
      if (a.username.length === 0 || a.username.length > MAX_USERNAME || a.password.length > MAX_PASSWORD) {
        audit.failure({ rhost: a.ip, user: a.username.slice(0, 64), method: a.method, reason: 'malformed credentials' });
        return fail(startedAt);
      }
      // a banned user is not worth a password hash (an attacker could spend our CPU on it); the answer
      // is padded to the same minimum delay below, so skipping it shows in no timing
      const ban = await regulator.isBanned(a.username, a.ip);
      const user = ban.banned ? null : await users.checkPassword(a.username, a.password);
      const authType = a.method === 'portal' ? '1fa' : 'basic';
      const successful = user !== null && !ban.banned;
      await regulator.mark({
        username: a.username,
        ip: a.ip,
        successful,
        authType,
        requestUri: a.requestUri,
        requestMethod: a.requestMethod,
      });
      options.metrics?.attempt(a.method, successful ? 'success' : ban.banned ? 'banned' : 'failure');
      if (successful) {
        if (!a.deferSuccessAudit) audit.success({ rhost: a.ip, user: user.username, method: a.method });
        return { ok: true, user };
      }
      audit.failure({ rhost: a.ip, user: a.username, method: a.method, reason: ban.banned ? 'banned' : 'bad credentials' });
      return fail(startedAt);
    },
  };
}
