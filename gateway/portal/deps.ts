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
import type { IdentityValidationSettings, TotpSettings, WebauthnSettings } from '../config/second-factor-schema.ts';
import type { Notifier } from '../notification/notifier.ts';
import type { Regulator } from '../regulation/regulator.ts';
import type { Storage } from '../storage/storage.ts';

import type { OidcProviderConfig } from '../config/oidc-schema.ts';
import type { OidcLogout } from '../oidc/logout.ts';
import type { OidcProvider } from '../oidc/provider.ts';

/** The tables the portal's second factors and self-service read and write. */
export type PortalStorage = Pick<
  Storage,
  'totp' | 'webauthn' | 'recoveryCodes' | 'oneTimeCodes' | 'identityVerification' | 'preferences' | 'userSessions' | 'authenticationLogs' | 'exclusively' | 'oidc'
>;

/** The second-factor configuration the portal follows (`totp`, `webauthn`, `identity_validation`, …). */
export interface SecondFactorSettings {
  totp: TotpSettings;
  webauthn: WebauthnSettings;
  identityValidation: IdentityValidationSettings;
  /** `default_2fa_method` ('' : the first the user has). */
  defaultMethod: string;
  /** `authentication_backend.password_reset.disable` (false when custom_url is set, as in Authelia) */
  passwordResetDisabled: boolean;
  /** `authentication_backend.password_reset.custom_url`: the "forgot password" link goes there; the built-in reset is off. */
  passwordResetCustomUrl: string | null;
  /** `authentication_backend.password_change.disable` */
  passwordChangeDisabled: boolean;
}

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
  storage: PortalStorage;
  /** null when `notifier` is not configured: nothing that mails someone can be done. */
  notifier: Notifier | null;
  /** Second-factor attempts are recorded and regulated like passwords (authType totp, webauthn, …). */
  regulator: Regulator;
  secondFactor: SecondFactorSettings;
  /** The OpenID Connect provider and its configuration; null when identity_providers.oidc is not set. */
  oidc?: { oidc: OidcProvider; config: OidcProviderConfig; logout?: OidcLogout } | null;
  /**
   * A gateway session ended (signed out, ended from the settings page): the apps it signed in to are
   * signed out too (OpenID Connect back-channel logout). Never throws: a failure is logged.
   */
  sessionEnded?: (data: { oidcLinkKey?: string | undefined }) => Promise<void>;
  /** The user's password changed: their other sessions' apps are signed out (keepLinkKey: the session that changed it). */
  credentialChanged?: (username: string, keepLinkKey?: string) => Promise<void>;
  /** Readiness of the storage (database) for /api/health. */
  storageReady: () => Promise<boolean>;
}

export function requestIp(req: Request, deps: Pick<PortalDeps, 'isTrustedProxy'>): string {
  return clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], deps.isTrustedProxy);
}
