/**
 * Builds the OpenID Connect provider from `identity_providers.oidc` (loaded by app.ts only when that is
 * configured): its keys, its storage, its pages, and the ties that make a gateway logout end the apps'
 * sessions too.
 */
import type { IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import type { Eta } from 'eta';
import type { Logger } from 'pino';
import type { UserAttributeResolver } from '../expression/user-attributes.ts';
import type { OidcProviderConfig } from '../config/oidc-schema.ts';
import type { AuditLog } from '../log/audit.ts';
import type { OidcRepository } from '../storage/oidc.ts';
import type { UserProvider } from '../users/provider.ts';
import type { BearerVerifier } from '../authz/decide.ts';
import { createBearerVerifier } from './bearer.ts';
import { clientSecretChecker } from './client-auth.ts';
import { hmacSecret, loadSigningKeys } from './keys.ts';
import { createOidcLogout, type OidcLogout } from './logout.ts';
import { oidcPages } from './pages.ts';
import { allowedScopes, consentCovered, levelSuffices } from './policy.ts';
import { authenticationLevel } from '../session/user-session.ts';
import { createOidcProvider, type OidcProvider } from './provider.ts';

export interface OpenedOidc {
  oidc: OidcProvider;
  config: OidcProviderConfig;
  logout: OidcLogout;
  /** Checks the provider's access tokens as forward-auth credentials (oidc/bearer.ts). */
  bearer: BearerVerifier;
}

export interface OpenOidcOptions {
  config: OidcProviderConfig;
  /** The first session cookie's portal URL: the issuer. */
  portalUrl: URL;
  /** server.address's path ('' for none). */
  serverPath?: string;
  repo: OidcRepository;
  users: Pick<UserProvider, 'getDetails'>;
  /** Attributes by Authelia's names, `definitions.user_attributes` included: custom claims read them. */
  userAttributes?: UserAttributeResolver;
  /** storage.local.path when storage is SQLite: a generated signing key is kept beside it. */
  localStoragePath: string | null;
  storageEncryptionKey: string;
  sessionTtlSec: number;
  isTrustedProxy: (ip: string) => boolean;
  eta: Eta;
  audit: AuditLog;
  logger: Logger;
  now: () => number;
  /** The current gateway session of a request to the provider, or null (read for prompt=none). */
  gatewaySession?: (req: IncomingMessage) => Promise<GatewaySessionView | null>;
}

/** What a silent authorization needs to know of the gateway session. */
export interface GatewaySessionView {
  username: string;
  groups: string[];
  amr: readonly string[];
  linkKey: string | undefined;
  ip: string;
}

export async function openOidc(options: OpenOidcOptions): Promise<OpenedOidc> {
  const { config, logger, now } = options;
  const keyPath = options.localStoragePath === null ? null : join(dirname(options.localStoragePath), 'oidc-signing-key.pem');
  const keys = await loadSigningKeys(config, keyPath);
  if (keys.generated) logger.info({ path: keyPath }, 'identity_providers.oidc: no jwks configured; made a signing key (RS256) and kept it beside the database');
  const issuer = options.portalUrl.href.replace(/\/$/, '');
  const oidc = await createOidcProvider({
    config,
    issuer,
    serverPath: options.serverPath ?? '',
    repo: options.repo,
    users: options.users,
    ...(options.userAttributes ? { userAttributes: options.userAttributes } : {}),
    keys,
    hmacSecret: hmacSecret(config, options.storageEncryptionKey),
    sessionTtlSec: options.sessionTtlSec,
    isTrustedProxy: options.isTrustedProxy,
    pages: oidcPages(options.eta, options.portalUrl.pathname, logger),
    logger,
    now,
    secrets: clientSecretChecker({ now, logger, audit: options.audit }),
    silent: async (req, client, session, params) => {
      const found = await options.gatewaySession?.(req);
      if (!found?.linkKey) return false;
      // read, never made here: a user with no subject has signed in to no app
      if ((await options.repo.existingSubject(found.username)) !== session.accountId) return false;
      // only the provider session this gateway session started (the same browser, the same sign-in)
      if (!(await options.repo.linkedSessions({ linkKey: found.linkKey })).includes(session.uid)) return false;
      if (levelSuffices(config, client, found, found.ip, authenticationLevel(found.amr), params.acr_values) !== true) return false;
      return consentCovered(options.repo, client, found.username, allowedScopes(client, params.scope), [], now());
    },
  });
  oidc.onAuthorized(async ({ sessionUid, linkKey, username }) => {
    await options.repo.linkSession(linkKey, sessionUid, username, now());
  });
  const logout = createOidcLogout({ oidc, repo: options.repo, logger, now });
  logger.info({ issuer, clients: config.clients.map((client) => client.client_id) }, 'OpenID Connect provider ready');
  const bearer = createBearerVerifier({ provider: oidc.provider, clients: oidc.clients, repo: options.repo, logger, now });
  return { oidc, config, logout, bearer };
}
