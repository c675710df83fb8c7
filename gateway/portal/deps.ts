import type { Request } from 'express';
import type { Eta } from 'eta';
import type { Logger } from 'pino';
import type { FirstFactor } from '../authn/first-factor.ts';
import type { AuditLog } from '../log/audit.ts';
import type { Authorizer } from '../authz/rules.ts';
import { clientIp } from '../../lib/net/client-ip.ts';
import type { SessionStore } from '../session/store.ts';
import type { UserProvider } from '../users/provider.ts';
import type { FirstRunSetup } from './setup.ts';
import type { PasswordPolicy } from '../../lib/password-policy.ts';

export interface PortalDeps {
  firstFactor: FirstFactor;
  /** A portal login's success is audited once its session is saved (see establishSession). */
  audit: AuditLog;
  authorizer: Authorizer;
  sessions: SessionStore;
  /** Who the session's user is now (groups, name, e-mail; null once removed or disabled). */
  users: UserProvider;
  isTrustedProxy: (ip: string) => boolean;
  eta: Eta;
  logger: Logger;
  now: () => number;
  setup: FirstRunSetup;
  /** `password_policy`: what a new password must be (absent: Gatehouse's default). */
  passwordPolicy?: PasswordPolicy;
  /** Readiness of the storage (database) for /api/health. */
  storageReady: () => Promise<boolean>;
}

export function requestIp(req: Request, deps: Pick<PortalDeps, 'isTrustedProxy'>): string {
  return clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], deps.isTrustedProxy);
}
