/**
 * Builds the user provider the configuration names, behind the details cache, as storage/open.ts does
 * for storage. The rest of the gateway knows the interfaces (UserProvider, UserAdmin), never a backend.
 */
import type { Logger } from 'pino';
import { ConfigError } from '../../lib/errors.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { CachedUserProvider, type RefreshInterval } from './cached.ts';
import { FileUserProvider, type PasswordVerifier } from './file-provider.ts';
import { DEFAULT_TRUST, type TrustedCertificates } from '../../lib/net/trusted-cas.ts';
import type { UserAdmin, UserProvider } from './provider.ts';

export type { PasswordVerifier };

export type AuthenticationBackendOptions = GatewayConfig['authentication_backend'];

export interface OpenUsersContext {
  logger: Logger;
  /** The cache's clock (tests move it). */
  now?: () => number;
  /** Checks a password against a stored hash (tests count or hold the calls); lib/password-hash's by default. */
  verifyPassword?: PasswordVerifier;
  /** Runs after a re-hash read the users file and before it writes it (tests: an outside edit lands in between). */
  beforeRehashWrite?: () => Promise<void>;
  /** false: no file watcher, whatever the configuration says (one-shot commands). */
  watch?: boolean;
  /** false: a missing users file is an error instead of being created empty (checking, not running). */
  create?: boolean;
  /** certificates_directory's CAs, for a directory over TLS; the system's alone by default. */
  trusted?: TrustedCertificates;
}

export interface OpenedUsers {
  /** What every consumer reads: the backend's details at once (in memory, or cached per refresh_interval). */
  users: UserProvider;
  /** Listing, adding and removing users, when the backend is Gatehouse's to edit (the users file); else null. */
  admin: UserAdmin | null;
}

/** Opens the configured backend; a malformed or unreadable users file is a UsersFileError naming every problem. */
export async function openUsers(backend: AuthenticationBackendOptions, context: OpenUsersContext): Promise<OpenedUsers> {
  if (backend.ldap !== undefined) {
    // loaded only when a directory is configured; its users are edited in the directory, not by Gatehouse
    const [{ LdapUserProvider }, { resolveLdapSettings }] = await Promise.all([import('./ldap.ts'), import('../config/ldap-schema.ts')]);
    const settings = resolveLdapSettings(backend.ldap, context.trusted ?? DEFAULT_TRUST);
    const provider = await LdapUserProvider.open(settings, { logger: context.logger, ...(context.now ? { now: context.now } : {}) });
    return { users: withDetailsCache(provider, backend, context), admin: null };
  }
  const file = backend.file;
  if (file === undefined) {
    throw new ConfigError(['config: authentication_backend.file: is required: set authentication_backend.file.path to a users file (created if missing)']);
  }
  const provider = await FileUserProvider.open({
    path: file.path,
    watch: context.watch ?? file.watch,
    search: { ...file.search, extra_attributes: file.extra_attributes },
    password: file.password,
    logger: context.logger,
    ...(context.create === undefined ? {} : { create: context.create }),
    ...(context.verifyPassword ? { verifyPassword: context.verifyPassword } : {}),
    ...(context.beforeRehashWrite ? { beforeRehashWrite: context.beforeRehashWrite } : {}),
  });
  return { users: withDetailsCache(provider, backend, context), admin: provider };
}

/**
 * A backend that holds its users in memory and re-reads them on every change (the users file: it has
 * peekDetails) answers at once by itself: a cache in front would be a second copy of its map. One that
 * asks a server (LDAP) goes behind the details cache, refreshed per refresh_interval.
 */
function withDetailsCache(provider: UserProvider, backend: AuthenticationBackendOptions, context: OpenUsersContext): UserProvider {
  if (provider.peekDetails) return provider;
  return new CachedUserProvider(provider, { refreshInterval: refreshInterval(backend.refresh_interval), now: context.now ?? Date.now, logger: context.logger });
}

/** Authelia's refresh_interval (seconds once parsed) as the cache takes it; `never` is an older spelling of `disable`. */
export function refreshInterval(value: AuthenticationBackendOptions['refresh_interval']): RefreshInterval {
  if (value === 'always' || value === 0) return 'always';
  if (value === 'disable' || value === 'never') return 'disable';
  return value * 1000;
}
