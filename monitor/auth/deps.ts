/**
 * The services the monitor's auth needs, built once by app.ts and passed to the middleware and the
 * auth router. Tests build them the same way, with cheap argon2 parameters and a movable clock.
 */
import { join } from 'node:path';
import type { JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import { DEFAULT_ARGON2_PARAMS, type Argon2Params } from '../../lib/password-hash.ts';
import { makeAddressMatcher } from '../../lib/net/address.ts';
import type { MonitorConfig } from '../config/schema.ts';
import { createAuditLog, type AuditLog } from './audit.ts';
import { passwordCheckLimiterFor } from '../../lib/password-checks.ts';
import { createPasswordHasher, type PasswordHasher } from './passwords.ts';
import { createPasswordPolicy, type PasswordPolicy } from '../../lib/password-policy.ts';
import { createRateLimiter, type RateLimiter, type WindowRule } from '../../lib/rate-limit.ts';
import { createAssertionVerifier, remoteHeaderPolicy, type AssertionVerifier, type RemoteHeaderPolicy } from './remote-user.ts';
import { createSetupCode, type SetupCode } from './setup-code.ts';
import { AuthStore } from './store.ts';

export interface MonitorAuthDeps {
  config: MonitorConfig;
  store: AuthStore;
  logger: Logger;
  audit: AuditLog;
  rateLimiter: RateLimiter;
  passwords: PasswordHasher;
  /** `password_policy`: what a new password of the local account must be (the gateway's rule). */
  passwordPolicy: PasswordPolicy;
  /** Epoch milliseconds. */
  now: () => number;
  isTrustedProxy: (ip: string) => boolean;
  remoteHeaders: RemoteHeaderPolicy;
  /** Set when `remote_user.assertion` is configured. */
  assertions: AssertionVerifier | null;
  /** Where Proxmox VE keeps the node's certificates (`/etc/pve/local`), for `/api/ssl/*`. */
  proxmoxCertDir: string;
  /** The logged one-time code that authorises setup, skip and decline while unconfigured. */
  setupCode: SetupCode;
}

export interface MonitorAuthOptions {
  logger: Logger;
  now?: () => number;
  /** Hash parameters for new passwords (default: lib/password-hash's, RFC 9106). */
  argon2?: Partial<Argon2Params>;
  rateLimits?: { perIp?: WindowRule; perUser?: WindowRule };
  /** Replaces fetching `remote_user.assertion.jwks_url` (tests). */
  assertionKeys?: JWTVerifyGetKey;
  proxmoxCertDir?: string;
  /** Replaces the password verifier (tests count or hold the calls). */
  verifyPassword?: (encoded: string, password: string) => Promise<boolean>;
}

export function createMonitorAuth(config: MonitorConfig, options: MonitorAuthOptions): MonitorAuthDeps {
  const now = options.now ?? Date.now;
  const logger = options.logger.child({ component: 'monitor-auth' });
  const store = new AuthStore({
    dataDir: config.data_dir,
    now,
    onSecretGenerated: (reason) => {
      if (reason !== 'new_file') logger.warn({ reason }, 'auth.json had no usable jwt_secret: a new one was generated, earlier tokens no longer work');
    },
  });
  const assertion = config.remote_user.assertion;
  return {
    config,
    store,
    logger,
    audit: createAuditLog({ path: config.audit_log ?? join(config.data_dir, 'auth.log'), logger, now }),
    rateLimiter: createRateLimiter({ ...options.rateLimits, now }),
    passwordPolicy: createPasswordPolicy(config.password_policy),
    passwords: createPasswordHasher(options.argon2, {
      limiter: passwordCheckLimiterFor(config.password_checks, options.argon2?.parallelism ?? DEFAULT_ARGON2_PARAMS.parallelism),
      ...(options.verifyPassword ? { verifyPassword: options.verifyPassword } : {}),
    }),
    now,
    isTrustedProxy: makeAddressMatcher(config.trusted_proxies),
    remoteHeaders: remoteHeaderPolicy(config.remote_user),
    assertions: assertion ? createAssertionVerifier(assertion, options.assertionKeys) : null,
    proxmoxCertDir: options.proxmoxCertDir ?? '/etc/pve/local',
    setupCode: createSetupCode(logger),
  };
}
