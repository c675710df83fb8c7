/**
 * The composition root: builds every service from the configuration, wires them into the route table
 * and starts listening. Nothing here is global, so two gateways can run in one process (tests do).
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { realpath } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Logger } from 'pino';
import { createFirstFactor, type FirstFactor } from './authn/first-factor.ts';
import { createAssertionIssuer, loadOrCreateAssertionKey } from './authz/assertion.ts';
import { compileAccessControl } from './authz/rules.ts';
import { namedNetworks, withNetworksResolved } from './config/definitions.ts';
import { createUserAttributeResolver } from './expression/user-attributes.ts';
import { enableLinearEngine } from './authz/linear-regex.ts';
import { configuredAuthzEndpoints, embeddedProxyStrategies } from './authz/authn-strategies.ts';
import type { GatewayConfig } from './config/schema.ts';
import { serverPathOf } from './config/validate/server-path.ts';
import { createAuditLog } from './log/audit.ts';
import { makeAddressMatcher } from '../lib/net/address.ts';
import { serve } from '../lib/http-server.ts';
import { drainBudget } from '../lib/shutdown.ts';
import { cleanUpInterruptedWrites } from '../lib/fs-atomic.ts';
import { openFirstRunSetup } from './portal/setup.ts';
import { Regulator } from './regulation/regulator.ts';
import { buildRoutes } from './routes.ts';
import { configuredPortal, resolveCookieDomains } from './session/cookie-domains.ts';
import { openSessionStore } from './session/store.ts';
import { cookieSigningKey } from './session/signed-cookie.ts';
import { createSessionReader, currentUser } from './session/reader.ts';
import { clientIp } from '../lib/net/client-ip.ts';
import { openStorage } from './storage/open.ts';
import { storageOptionsFromConfig } from './storage/options.ts';
import { loadTrustedCertificates } from '../lib/net/trusted-cas.ts';
import { openNotifier } from './notification/open.ts';
import { openProviders } from './startup-checks.ts';
import { openUsers, type PasswordVerifier } from './users/open.ts';
import type { UserAdmin, UserProvider } from './users/provider.ts';
import { passwordCheckLimiterFor, type PasswordCheckLimiter } from '../lib/password-checks.ts';
import { createPasswordPolicy } from '../lib/password-policy.ts';

export interface GatewayOptions {
  logger: Logger;
  now?: () => number;
  /** Pads failed logins to this many ms (tests shorten it). */
  minFailureDelayMs?: number;
  /** Checks a password against a stored hash (tests count or hold the calls); lib/password-hash's by default. */
  verifyPassword?: PasswordVerifier;
}

export interface Gateway {
  server: Server;
  /** Where the gateway listens, e.g. http://127.0.0.1:9091 */
  url: string;
  port: number;
  /** The one-time first-run URL while no user exists, else null. */
  setupUrl(): string | null;
  /** Details cached per authentication_backend.refresh_interval. */
  users: UserProvider;
  /** Listing, adding and removing users (the users file); null when the backend is not Gatehouse's to edit. */
  userAdmin: UserAdmin | null;
  /** The gate every password check of this gateway goes through. */
  passwordChecks: PasswordCheckLimiter;
  /** Every first-factor check (portal and Basic) goes through it. */
  firstFactor: FirstFactor;
  close(): Promise<void>;
}

const TEMPLATES = fileURLToPath(new URL('../templates/portal/', import.meta.url));
export const DEFAULT_MIN_FAILURE_DELAY_MS = 500;
const HOUSEKEEPING_INTERVAL_MS = 3_600_000;

export async function startGateway(config: GatewayConfig, options: GatewayOptions): Promise<Gateway> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const cleanups: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: Error) => logger.warn({ err: error.message }, 'shutdown step failed'));
  };
  try {
    const sessionSecret = config.session.secret ?? randomBytes(32).toString('base64url');
    if (!config.session.secret) logger.info('session.secret not set: generated one for this run (sessions end when Gatehouse restarts)');
    // the users file, or none with a directory (authentication_backend.ldap)
    const fileCfg = config.authentication_backend.file;
    // a crash mid-write left a temp file beside the users file or the assertion key: not a second copy to keep
    // (users-file writes go to its real path: a symlinked users file's temp files sit beside the target)
    const usersDirs = fileCfg ? [dirname(fileCfg.path), dirname(await realpath(fileCfg.path).catch(() => fileCfg.path))] : [];
    await cleanUpInterruptedWrites([...usersDirs, ...(config.identity_assertion ? [dirname(config.identity_assertion.key_path)] : [])], logger);
    // certificates_directory: read once, trusted by every outgoing TLS connection (a bad file stops the start here)
    const trusted = await loadTrustedCertificates(config.certificates_directory);
    // every provider opens and runs its startup check before anything is served; one start names every one that fails
    // (nothing is sent yet: the notifier is built and checked so that a wrong notifier.* fails now)
    const [storage, sessions, { users, admin }, notifier] = await openProviders([
      {
        name: 'storage',
        open: () => openStorage(storageOptionsFromConfig(config.storage, trusted), { logger, migrate: true, now }),
        check: (opened) => opened.startupCheck(),
        close: (opened) => opened.close(),
      },
      {
        name: 'session store',
        open: () => openSessionStore(config.session.redis, sessionSecret, logger, now, trusted),
        check: (opened) => opened.startupCheck(),
        close: (opened) => opened.close(),
      },
      {
        name: 'users',
        open: () => openUsers(config.authentication_backend, { logger, now, trusted, ...(options.verifyPassword ? { verifyPassword: options.verifyPassword } : {}) }),
        check: (opened) => opened.users.startupCheck(),
        close: (opened) => opened.users.close(),
      },
      {
        name: 'notifier',
        open: async () => openNotifier(config.notifier, { now, logger, trusted }),
        check: async (opened) => (opened && !config.notifier?.disable_startup_check ? opened.startupCheck() : undefined),
        close: async () => {},
      },
    ]);
    cleanups.push(() => storage.close());
    cleanups.push(() => sessions.close());
    cleanups.push(() => users.close());
    if (!notifier && !config.authentication_backend.password_reset.disable && config.authentication_backend.password_reset.custom_url === undefined) {
      logger.warn('authentication_backend.password_reset: no notifier is configured, so password reset is off (and no one-time code can be mailed) until notifier.smtp is set');
    }

    // prom-client and the proxy are loaded only when configured
    const metrics = config.telemetry.metrics.enabled ? (await import('./metrics/metrics.ts')).createGatewayMetrics() : undefined;
    // attempts count per account: `alice`, `Alice` and alice's e-mail share one counter and one ban
    const regulator = new Regulator({ options: config.regulation, storage, logger, now, canonicalise: (login) => users.resolveLogin(login) });
    const audit = createAuditLog(logger);
    const passwordChecks = passwordCheckLimiterFor(config.authentication_backend.password_checks, fileCfg?.password.argon2.parallelism ?? 1);
    metrics?.watchPasswordChecks(passwordChecks.stats);
    const firstFactor = createFirstFactor(users, regulator, audit, {
      minFailureDelayMs: options.minFailureDelayMs ?? DEFAULT_MIN_FAILURE_DELAY_MS,
      now,
      metrics,
      limiter: passwordChecks,
    });
    enableLinearEngine(); // set at startup by bin/gatehouse.ts; again here for a gateway built in-process
    const networks = namedNetworks(config);
    const authorizer = compileAccessControl(config.access_control, networks);
    const cookieDomains = resolveCookieDomains(config);
    const isTrustedProxy = makeAddressMatcher(config.server.trusted_proxies);
    const setup = await openFirstRunSetup(admin, storage.setupState, { logger, now, usersPath: fileCfg?.path ?? '' });

    const sessionReader = createSessionReader({ sessions, key: cookieSigningKey(sessionSecret), logger, now });
    const assertionCfg = config.identity_assertion;
    const assertions = assertionCfg
      ? await createAssertionIssuer(await loadOrCreateAssertionKey(assertionCfg.key_path), {
          audiences: assertionCfg.audiences,
          lifespan: assertionCfg.lifespan,
          issuer: configuredPortal(cookieDomains).origin,
          now,
        })
      : undefined;
    // the OpenID Connect provider, loaded only when identity_providers.oidc is configured
    const oidcConfig = config.identity_providers?.oidc;
    // server.address's path: every endpoint is served under it (validated: each authelia_url is too)
    const serverPath = serverPathOf(config.server.address);
    const longestSessionSec = Math.max(...cookieDomains.map((d) => Math.max(d.expiration, d.rememberMe)));
    const eta = new Eta({ views: TEMPLATES, cache: true, autoEscape: true });
    const oidc = oidcConfig
      ? await (await import('./oidc/open.ts')).openOidc({
          config: withNetworksResolved(oidcConfig, networks),
          userAttributes: createUserAttributeResolver(config.definitions?.user_attributes),
          portalUrl: configuredPortal(cookieDomains),
          serverPath,
          repo: storage.oidc,
          users,
          localStoragePath: config.storage.local?.path ?? null,
          storageEncryptionKey: config.storage.encryption_key!,
          sessionTtlSec: longestSessionSec,
          isTrustedProxy,
          eta,
          audit,
          logger,
          now,
          gatewaySession: async (req) => {
            const read = await sessionReader.read(req.headers.cookie, cookieDomains[0]!);
            const user = read ? await currentUser(read.data, users) : null;
            if (!read || !user) return null;
            const ip = clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], isTrustedProxy);
            return { username: user.username, groups: user.groups, amr: read.data.amr ?? [], linkKey: read.data.oidcLinkKey, ip };
          },
        })
      : null;
    if (oidc && admin) (await import('./oidc/logout.ts')).endRemovedUsers(admin, oidc.logout, storage.oidc, logger);
    // a rename in another process, then the old name given to a new user: the remembered subject → name is stale
    if (oidc) users.onChange?.(() => storage.oidc.forgetRememberedUsernames());
    // a gateway session that ends signs its apps out; a failure is logged, never in the way of a sign-out
    const logoutHooks = oidc
      ? {
          sessionEnded: async (data: { oidcLinkKey?: string | undefined }) => {
            await oidc.logout.endLinked(data.oidcLinkKey).catch((error: unknown) => logger.warn({ err: error }, 'oidc: the apps of an ended session could not all be signed out'));
          },
          credentialChanged: async (username: string, keepLinkKey?: string) => {
            await oidc.logout.endUser(username, keepLinkKey).catch((error: unknown) => logger.warn({ err: error, user: username }, 'oidc: the apps of a user whose password changed could not all be signed out'));
          },
        }
      : {};
    // Bearer tokens are read only where server.endpoints.authz lists them, and checked only against this provider
    const authzDeps = { cookieDomains, sessions, sessionReader, authorizer, users, firstFactor, isTrustedProxy, logger, now, assertions, metrics, ...(oidc ? { bearer: oidc.bearer } : {}) };
    const scheme = config.server.tls ? 'https' : 'http';
    const authzEndpoints = configuredAuthzEndpoints(config.server.endpoints?.authz);
    const proxy =
      Object.keys(config.server.upstreams).length > 0
        ? (await import('./proxy/embedded-proxy.ts')).createEmbeddedProxy(config.server.upstreams, scheme, authzDeps, embeddedProxyStrategies(authzEndpoints))
        : null;
    const routes = buildRoutes({
      authz: authzDeps,
      portal: {
        firstFactor,
        audit,
        authorizer,
        sessions,
        users,
        isTrustedProxy,
        eta,
        oidc: oidc ? { oidc: oidc.oidc, config: oidc.config, logout: oidc.logout } : null,
        ...logoutHooks,
        logger,
        now,
        setup,
        passwordPolicy: createPasswordPolicy(config.password_policy),
        storage,
        notifier,
        regulator,
        secondFactor: {
          totp: config.totp,
          webauthn: config.webauthn,
          identityValidation: config.identity_validation,
          defaultMethod: config.default_2fa_method,
          passwordResetDisabled: config.authentication_backend.password_reset.disable && !config.authentication_backend.password_reset.custom_url,
          passwordResetCustomUrl: config.authentication_backend.password_reset.custom_url ?? null,
          passwordChangeDisabled: config.authentication_backend.password_change.disable,
        },
        storageReady: async () => {
          await storage.ping();
          return true;
        },
      },
      cookieDomains,
      sessionSecret,
      proxy,
      authzEndpoints,
      pathPrefix: serverPath,
    });

    // expired codes, reset links and dead session-index rows are forgotten at start and hourly
    const longestSessionMs = longestSessionSec * 1000;
    const housekeeping = () =>
      storage.housekeeping.pruneExpired(now(), longestSessionMs).then(
        (pruned) => logger.debug(pruned, 'storage: expired rows forgotten'),
        (error: unknown) => logger.warn({ err: error }, 'storage: expired rows could not be forgotten; trying again in an hour'),
      );
    void housekeeping();
    const housekeepingTimer = setInterval(housekeeping, HOUSEKEEPING_INTERVAL_MS).unref();
    cleanups.push(async () => clearInterval(housekeepingTimer));

    const listening = await serve({ address: config.server.address, tls: config.server.tls, request: routes.request, upgrade: routes.upgrade });
    // first to close on shutdown (cleanups run in reverse): running requests finish, then the stores close
    cleanups.push(() => listening.close(drainBudget(config.server.shutdown_timeout)));
    if (metrics) {
      const metricsServer = await serve({
        address: config.telemetry.metrics.address,
        request: (req, res) => {
          if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') return void res.writeHead(404).end();
          metrics.registry.metrics().then(
            (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
            () => res.writeHead(500).end(),
          );
        },
        upgrade: (_req, socket) => socket.destroy(),
      });
      cleanups.push(() => metricsServer.close(drainBudget(config.server.shutdown_timeout)));
      logger.info({ address: metricsServer.url }, 'metrics listening at /metrics');
    }
    const { server, port, url } = listening;
    logger.info({ address: url, ...(serverPath === '' ? {} : { path: `${serverPath}/` }), sessions: sessions.kind, storage: storage.dialect, domains: cookieDomains.map((d) => d.domain) }, 'gateway listening');

    return {
      server,
      url,
      port,
      users,
      userAdmin: admin,
      passwordChecks,
      firstFactor,
      setupUrl() {
        const token = setup.token;
        if (!token) return null;
        const portal = cookieDomains[0]!.portalUrl;
        // a legacy cookie's portal is wherever the proxy serves it: the path, on that host
        if (!portal) return `${serverPath}/setup?token=${token}`;
        return new URL(`setup?token=${token}`, portal.href.endsWith('/') ? portal.href : `${portal.href}/`).href;
      },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
