/**
 * Every endpoint of the gateway and the guard in front of it, in one table (`gatewayRouteTable`).
 * Auditing "what is public?" is reading that table: buildRoutes serves its rows and nothing else (any
 * other path on the portal is a 404), and `gatehouse routes` prints it without starting anything.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { InternalError } from '../lib/errors.ts';
import { assertDistinctRoutes, type RouteMethod, type RouteSummary } from '../lib/route-table.ts';
import { createAuthzHandler, type AuthzDeps } from './authz/forward-auth.ts';
import { canonicalRequestHost } from './authz/target.ts';
import { configuredAuthzEndpoints, DEFAULT_AUTHZ_ENDPOINTS, embeddedProxyStrategies, type AuthnStrategies, type AuthzEndpoint } from './authz/authn-strategies.ts';
import type { GatewayConfig } from './config/schema.ts';
import { isUnderPortalPath, portalBasePath, type CookieDomain } from './session/cookie-domains.ts';
import type { EmbeddedProxy } from './proxy/embedded-proxy.ts';
import { errorHandler, notFound, securityHeaders } from './portal/answers.ts';
import { firstFactorHandler, healthHandler, logoutHandler, stateHandler } from './portal/api.ts';
import { recoveryCodeSignHandler, recoveryCodesCountHandler, recoveryCodesGenerateHandler } from './portal/recovery-codes-api.ts';
import { configurationHandler, methodPreferenceHandler, userInfoHandler } from './portal/second-factor-methods.ts';
import { passwordForm, recoveryCodeForm, recoveryCodesForm, secondFactorPage, totpDeleteForm, totpForm, totpRegisterForm, totpRegisterPage } from './portal/second-factor-pages.ts';
import {
  totpConfigurationHandler,
  totpDeleteHandler,
  totpRegisterCancelHandler,
  totpRegisterFinishHandler,
  totpRegisterOptionsHandler,
  totpRegisterStartHandler,
  totpSignHandler,
  passwordSignHandler,
} from './portal/totp-api.ts';
import { requireFormSameOrigin, requireJsonSameOrigin } from './portal/csrf.ts';
import type { PortalDeps } from './portal/deps.ts';
import { guardMiddleware, type PortalGuard } from './portal/guards.ts';
import { loginForm, loginPage, logoutForm, setupForm, setupPage } from './portal/pages.ts';
import { portalSessions } from './portal/session-middleware.ts';
import { revokeConsentForm, revokeConsentHandler } from './oidc/apps.ts';
import { authorizationServerMetadata, endSessionConfirm, oidcEndpoint } from './oidc/endpoints.ts';
import { interactionForm, interactionPage } from './oidc/interaction.ts';
import { INTERACTION_PATH, OIDC_PATHS } from './oidc/provider.ts';
import { changePasswordForm, changePasswordHandler, changePasswordPage, passwordPolicyHandler } from './portal/change-password.ts';
import { elevateForm, elevatePage, elevateRevokeForm, elevateRevokePage, elevateSendForm, elevationCodeHandler, elevationRevokeHandler, elevationSendHandler, elevationStateHandler } from './portal/elevation-handlers.ts';
import { resetFinishForm, resetFinishHandler, resetFinishPage, resetPasswordHandler, resetRevokeForm, resetRevokeHandler, resetRevokePage, resetStartForm, resetStartHandler, resetStartPage } from './portal/password-reset-handlers.ts';
import { SELF_SERVICE_LIMITS } from './portal/self-service-limits.ts';
import { sessionActivity } from './portal/session-index.ts';
import { settingsPage } from './portal/settings.ts';
import { deleteAllSessionsForm, deleteAllSessionsHandler, deleteSessionForm, deleteSessionHandler, listSessionsHandler } from './portal/user-sessions.ts';
import { abandonRegistration, deleteCredentialApi, listCredentials, registerCredential, registrationOptions, renameCredentialApi } from './portal/webauthn-credentials.ts';
import { deleteWebauthnForm, renameWebauthnForm, simplewebauthnBrowserScript, webauthnSettingsPage } from './portal/webauthn-pages.ts';
import { passkeyOptions, passkeySignIn, webauthnAssertion, webauthnAssertionOptions } from './portal/webauthn-sign-in.ts';

export interface RouteDeps {
  authz: AuthzDeps;
  portal: PortalDeps;
  cookieDomains: readonly CookieDomain[];
  sessionSecret: string;
  proxy: EmbeddedProxy | null;
  /** The forward-auth endpoints served (server.endpoints.authz); default: all three, every strategy. */
  authzEndpoints?: readonly AuthzEndpoint[];
  /**
   * server.address's path (`/auth`, no trailing slash; '' or absent for none): every row answers under
   * it; the node rows also at the root, as Authelia's. The portal's own paths (each authelia_url's)
   * already include it, and nothing of the portal answers outside it.
   */
  pathPrefix?: string;
}

export interface Routes {
  request(req: IncomingMessage, res: ServerResponse): void;
  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void;
}

/**
 * The portal's guards, written once in portal/guards.ts and applied by the table, plus `ACCESS_RULES`:
 * access_control decides per request, for the target a proxy names (the forward-auth endpoints) or for
 * the request itself (the embedded proxy). Those handlers are the rules' own fail-closed path.
 */
export type GatewayGuard = PortalGuard | OidcGuard | 'ACCESS_RULES';

/**
 * The OpenID Connect provider's endpoints check their callers themselves (oidc-provider): `CLIENT_AUTH`,
 * the client's credentials (secret, signed JWT or none for a public client); `ACCESS_TOKEN`, a bearer
 * access token it issued. Such rows are sessionless.
 */
export type OidcGuard = 'CLIENT_AUTH' | 'ACCESS_TOKEN';

/**
 * Where a row answers, in the order requests are matched:
 * - `every-host`: any Host, before anything else (a proxy asks the forward-auth questions for any host);
 * - `upstream-hosts`: the hosts server.upstreams names, except the portal's own paths on the portal's host;
 * - `unproxied-hosts`: any host the embedded proxy does not take (it would hide the app's own path), and
 *   under each portal path;
 * - `portal`: under the path of each session.cookies authelia_url (the root for a legacy session.domain
 *   cookie, which has none), with that cookie domain's session.
 */
export type RouteHosts = 'every-host' | 'upstream-hosts' | 'unproxied-hosts' | 'portal';

export interface GatewayRouteSummary extends RouteSummary {
  guard: GatewayGuard;
  hosts: RouteHosts;
}

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

interface NodeRoute extends GatewayRouteSummary {
  hosts: 'every-host' | 'unproxied-hosts';
  method: Exclude<RouteMethod, 'WS'>;
  guard: 'PUBLIC' | 'ACCESS_RULES';
  handler: (deps: RouteDeps) => NodeHandler;
}

type ProxyRoute = GatewayRouteSummary & { hosts: 'upstream-hosts'; guard: 'ACCESS_RULES' } & (
  | { method: 'ANY'; handler: (proxy: EmbeddedProxy) => (req: IncomingMessage, res: ServerResponse, host: string) => void }
  | { method: 'WS'; upgrade: (proxy: EmbeddedProxy) => (req: IncomingMessage, socket: Socket, head: Buffer, host: string) => void }
);

interface PortalRoute extends GatewayRouteSummary {
  hosts: 'portal';
  method: Exclude<RouteMethod, 'WS'>;
  guard: PortalGuard | OidcGuard;
  /** Answered before the session is read: no cookie, no cookie domain. */
  sessionless?: true;
  /** The body it takes; a JSON or form body comes with its same-origin check (portal/csrf.ts). */
  accepts?: 'json' | 'form';
  /** An HTML page (or form post): a refused GET is redirected to sign in, the second-factor step or elevation. */
  page?: true;
  handler: (deps: PortalDeps) => RequestHandler;
}

export type GatewayRoute = NodeRoute | ProxyRoute | PortalRoute;

/** Which config-dependent rows are served. */
export interface RouteShape {
  authzEndpoints: readonly AuthzEndpoint[];
  /** identity_assertion is configured: /jwks.json publishes its key. */
  identityAssertion: boolean;
  /** server.upstreams names a host: the embedded proxy answers there. */
  upstreams: boolean;
  /** identity_providers.oidc is configured: the provider's endpoints and the interaction page are served. */
  oidc: boolean;
}

/** Every row some configuration serves, with the default forward-auth endpoints. */
const EVERY_ROW: RouteShape = { authzEndpoints: DEFAULT_AUTHZ_ENDPOINTS, identityAssertion: true, upstreams: true, oidc: true };
const CLIENT_SECRET_CHECKS = 'client secret checks (per address)';

const STATIC_DIR = fileURLToPath(new URL('./portal/static/', import.meta.url));
const PASSWORD_CHECKS = 'regulation + password checks';
/** Second-factor codes: recorded per user for every instance, refused after max_retries wrong ones within find_time. */
const CODE_CHECKS = 'regulation (second factor)';
const WEBAUTHN_REGULATION = 'regulation';
/** What limits each credential kind the endpoint reads (Basic: the first factor's regulation and password-check limiter). */
const basicLimit = (strategies: AuthnStrategies) => [...new Set(strategies.map((strategy) => strategy.rateLimit).filter((limit) => limit !== null))].join(', ') || null;

function jwksHandler(deps: RouteDeps): NodeHandler {
  if (!deps.authz.assertions && !deps.portal.oidc) throw new InternalError('route_table_invalid', 'route table: /jwks.json without identity_assertion or identity_providers.oidc');
  // one keystore: the OpenID Connect signing keys and the identity-assertion key
  const body = JSON.stringify({ keys: [...(deps.portal.oidc?.oidc.publicJwks ?? []), ...(deps.authz.assertions?.jwks.keys ?? [])] });
  return (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/jwk-set+json', 'Cache-Control': 'public, max-age=300', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
}

function proxyOf(proxy: EmbeddedProxy | null): EmbeddedProxy {
  if (!proxy) throw new InternalError('route_table_invalid', 'route table: a proxied row without server.upstreams');
  return proxy;
}

/** The table. Rows are data: each handler is a factory given its dependencies when the gateway starts. */
export function gatewayRouteTable(shape: RouteShape): GatewayRoute[] {
  const proxyLimit = basicLimit(embeddedProxyStrategies(shape.authzEndpoints));
  return [
    // the forward-auth questions: legacy /api/verify answers every method, the others GET and HEAD
    ...shape.authzEndpoints.map((endpoint): NodeRoute => ({
      method: endpoint.dialect === 'legacy' ? 'ANY' : 'GET',
      path: endpoint.path,
      guard: 'ACCESS_RULES',
      rateLimit: basicLimit(endpoint.strategies),
      hosts: 'every-host',
      handler: (deps) => createAuthzHandler(endpoint.dialect, deps.authz, endpoint.strategies),
    })),
    // the keys apps use to check ID tokens and the identity assertion
    ...(shape.identityAssertion || shape.oidc ? [{ method: 'GET', path: '/jwks.json', guard: 'PUBLIC', rateLimit: null, hosts: 'every-host', handler: jwksHandler } satisfies NodeRoute] : []),
    ...(shape.upstreams
      ? ([
          { method: 'ANY', path: '/*', guard: 'ACCESS_RULES', rateLimit: proxyLimit, hosts: 'upstream-hosts', handler: (proxy) => proxy.handle.bind(proxy) },
          { method: 'WS', path: '/*', guard: 'ACCESS_RULES', rateLimit: proxyLimit, hosts: 'upstream-hosts', upgrade: (proxy) => proxy.upgrade.bind(proxy) },
        ] satisfies ProxyRoute[])
      : []),
    { method: 'GET', path: '/api/health', guard: 'PUBLIC', rateLimit: null, hosts: 'unproxied-hosts', handler: (deps) => healthHandler(deps.portal) },

    // the portal; static files need no session
    { method: 'GET', path: '/static/*', guard: 'PUBLIC', rateLimit: null, hosts: 'portal', sessionless: true, handler: () => express.static(STATIC_DIR, { index: false, fallthrough: false, maxAge: '1h' }) },
    { method: 'GET', path: '/', guard: 'PUBLIC', rateLimit: null, hosts: 'portal', handler: loginPage },
    { method: 'POST', path: '/login', guard: 'PUBLIC', rateLimit: PASSWORD_CHECKS, hosts: 'portal', accepts: 'form', handler: loginForm },
    { method: 'POST', path: '/logout', guard: 'PUBLIC', rateLimit: null, hosts: 'portal', accepts: 'form', handler: logoutForm },
    // the one-time setup token is checked by the handler: a wrong one gets the same 404 page as a used one
    { method: 'GET', path: '/setup', guard: 'PUBLIC', rateLimit: null, hosts: 'portal', handler: setupPage },
    { method: 'POST', path: '/setup', guard: 'PUBLIC', rateLimit: null, hosts: 'portal', accepts: 'form', handler: setupForm },
    { method: 'POST', path: '/api/firstfactor', guard: 'PUBLIC', rateLimit: PASSWORD_CHECKS, hosts: 'portal', accepts: 'json', handler: firstFactorHandler },
    { method: 'POST', path: '/api/logout', guard: 'PUBLIC', rateLimit: null, hosts: 'portal', accepts: 'json', handler: logoutHandler },
    { method: 'GET', path: '/api/state', guard: 'PUBLIC', rateLimit: null, hosts: 'portal', handler: stateHandler },
    { method: 'GET', path: '/api/user/info', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', handler: userInfoHandler },

    // B: elevation (an e-mailed one-time code), password reset, change password, the password policy
    { method: 'GET', path: '/api/user/session/elevation', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', handler: elevationStateHandler },
    { method: 'POST', path: '/api/user/session/elevation', guard: 'LEVEL_1', rateLimit: SELF_SERVICE_LIMITS.codeSend, hosts: 'portal', accepts: 'json', handler: elevationSendHandler },
    { method: 'PUT', path: '/api/user/session/elevation', guard: 'LEVEL_1', rateLimit: SELF_SERVICE_LIMITS.codeCheck, hosts: 'portal', accepts: 'json', handler: elevationCodeHandler },
    { method: 'DELETE', path: '/api/user/session/elevation/:id', guard: 'PUBLIC', rateLimit: SELF_SERVICE_LIMITS.tokenChecks, hosts: 'portal', handler: elevationRevokeHandler },
    { method: 'GET', path: '/elevate', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', page: true, handler: elevatePage },
    { method: 'POST', path: '/elevate/send', guard: 'LEVEL_1', rateLimit: SELF_SERVICE_LIMITS.codeSend, hosts: 'portal', accepts: 'form', page: true, handler: elevateSendForm },
    { method: 'POST', path: '/elevate', guard: 'LEVEL_1', rateLimit: SELF_SERVICE_LIMITS.codeCheck, hosts: 'portal', accepts: 'form', page: true, handler: elevateForm },
    { method: 'GET', path: '/elevate/revoke', guard: 'PUBLIC', rateLimit: null, hosts: 'portal', handler: elevateRevokePage },
    { method: 'POST', path: '/elevate/revoke', guard: 'PUBLIC', rateLimit: SELF_SERVICE_LIMITS.tokenChecks, hosts: 'portal', accepts: 'form', handler: elevateRevokeForm },
    { method: 'POST', path: '/api/reset-password/identity/start', guard: 'PUBLIC', rateLimit: SELF_SERVICE_LIMITS.resetStart, hosts: 'portal', accepts: 'json', handler: resetStartHandler },
    { method: 'POST', path: '/api/reset-password/identity/finish', guard: 'PUBLIC', rateLimit: SELF_SERVICE_LIMITS.tokenChecks, hosts: 'portal', accepts: 'json', handler: resetFinishHandler },
    { method: 'POST', path: '/api/reset-password', guard: 'PUBLIC', rateLimit: null, hosts: 'portal', accepts: 'json', handler: resetPasswordHandler },
    { method: 'DELETE', path: '/api/reset-password', guard: 'PUBLIC', rateLimit: SELF_SERVICE_LIMITS.tokenChecks, hosts: 'portal', accepts: 'json', handler: resetRevokeHandler },
    { method: 'GET', path: '/reset-password', guard: 'PUBLIC', rateLimit: null, hosts: 'portal', handler: resetStartPage },
    { method: 'POST', path: '/reset-password', guard: 'PUBLIC', rateLimit: SELF_SERVICE_LIMITS.resetStart, hosts: 'portal', accepts: 'form', handler: resetStartForm },
    { method: 'GET', path: '/reset-password/finish', guard: 'PUBLIC', rateLimit: SELF_SERVICE_LIMITS.tokenChecks, hosts: 'portal', handler: resetFinishPage },
    { method: 'POST', path: '/reset-password/finish', guard: 'PUBLIC', rateLimit: SELF_SERVICE_LIMITS.tokenChecks, hosts: 'portal', accepts: 'form', handler: resetFinishForm },
    { method: 'GET', path: '/reset-password/revoke', guard: 'PUBLIC', rateLimit: null, hosts: 'portal', handler: resetRevokePage },
    { method: 'POST', path: '/reset-password/revoke', guard: 'PUBLIC', rateLimit: SELF_SERVICE_LIMITS.tokenChecks, hosts: 'portal', accepts: 'form', handler: resetRevokeForm },
    { method: 'POST', path: '/api/change-password', guard: 'ELEVATED', rateLimit: PASSWORD_CHECKS, hosts: 'portal', accepts: 'json', handler: changePasswordHandler },
    { method: 'GET', path: '/settings/password', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', page: true, handler: changePasswordPage },
    { method: 'POST', path: '/settings/password', guard: 'ELEVATED', rateLimit: PASSWORD_CHECKS, hosts: 'portal', accepts: 'form', page: true, handler: changePasswordForm },
    { method: 'GET', path: '/api/configuration/password-policy', guard: 'PUBLIC', rateLimit: null, hosts: 'portal', handler: passwordPolicyHandler },
    // settings and signed-in sessions (issue 9, engineer D)
    { method: 'GET', path: '/settings', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', page: true, handler: settingsPage },
    { method: 'GET', path: '/api/user/sessions', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', handler: listSessionsHandler },
    { method: 'DELETE', path: '/api/user/sessions', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', accepts: 'json', handler: deleteAllSessionsHandler },
    { method: 'DELETE', path: '/api/user/sessions/:id', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', accepts: 'json', handler: deleteSessionHandler },
    { method: 'POST', path: '/settings/sessions/delete-all', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', accepts: 'form', page: true, handler: deleteAllSessionsForm },
    { method: 'POST', path: '/settings/sessions/:id/delete', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', accepts: 'form', page: true, handler: deleteSessionForm },
    // second factors (engineer A): TOTP, recovery codes, the second-factor step and its settings pages
    { method: 'POST', path: '/api/user/info/2fa_method', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', accepts: 'json', handler: methodPreferenceHandler },
    { method: 'GET', path: '/api/configuration', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', handler: configurationHandler },
    { method: 'GET', path: '/api/secondfactor/totp', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', handler: totpConfigurationHandler },
    { method: 'POST', path: '/api/secondfactor/totp', guard: 'LEVEL_1', rateLimit: CODE_CHECKS, hosts: 'portal', accepts: 'json', handler: totpSignHandler },
    { method: 'DELETE', path: '/api/secondfactor/totp', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', handler: totpDeleteHandler },
    { method: 'GET', path: '/api/secondfactor/totp/register', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', handler: totpRegisterOptionsHandler },
    { method: 'PUT', path: '/api/secondfactor/totp/register', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', accepts: 'json', handler: totpRegisterStartHandler },
    { method: 'POST', path: '/api/secondfactor/totp/register', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', accepts: 'json', handler: totpRegisterFinishHandler },
    { method: 'DELETE', path: '/api/secondfactor/totp/register', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', handler: totpRegisterCancelHandler },
    { method: 'GET', path: '/api/secondfactor/recovery-codes', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', handler: recoveryCodesCountHandler },
    { method: 'PUT', path: '/api/secondfactor/recovery-codes', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', accepts: 'json', handler: recoveryCodesGenerateHandler },
    { method: 'POST', path: '/api/secondfactor/recovery-code', guard: 'LEVEL_1', rateLimit: CODE_CHECKS, hosts: 'portal', accepts: 'json', handler: recoveryCodeSignHandler },
    { method: 'GET', path: '/2fa', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', page: true, handler: secondFactorPage },
    { method: 'POST', path: '/2fa/totp', guard: 'LEVEL_1', rateLimit: CODE_CHECKS, hosts: 'portal', accepts: 'form', page: true, handler: totpForm },
    { method: 'POST', path: '/2fa/recovery-code', guard: 'LEVEL_1', rateLimit: CODE_CHECKS, hosts: 'portal', accepts: 'form', page: true, handler: recoveryCodeForm },
    // the password as a passkey session's second factor (Authelia 4.39's /api/secondfactor/password)
    { method: 'POST', path: '/api/secondfactor/password', guard: 'LEVEL_1', rateLimit: PASSWORD_CHECKS, hosts: 'portal', accepts: 'json', handler: passwordSignHandler },
    { method: 'POST', path: '/2fa/password', guard: 'LEVEL_1', rateLimit: PASSWORD_CHECKS, hosts: 'portal', accepts: 'form', page: true, handler: passwordForm },
    { method: 'GET', path: '/settings/totp', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', page: true, handler: totpRegisterPage },
    { method: 'POST', path: '/settings/totp', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', accepts: 'form', page: true, handler: totpRegisterForm },
    { method: 'POST', path: '/settings/totp/delete', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', accepts: 'form', page: true, handler: totpDeleteForm },
    { method: 'POST', path: '/settings/recovery-codes', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', accepts: 'form', page: true, handler: recoveryCodesForm },
    // WebAuthn security keys and passkeys (Authelia 4.39's endpoints); off with webauthn.disable, passkey
    // sign-in also with enable_passkey_login: false (the rows then answer 404)
    { method: 'GET', path: '/vendor/simplewebauthn-browser.js', guard: 'PUBLIC', rateLimit: null, hosts: 'portal', sessionless: true, handler: simplewebauthnBrowserScript },
    { method: 'GET', path: '/api/secondfactor/webauthn', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', handler: webauthnAssertionOptions },
    { method: 'POST', path: '/api/secondfactor/webauthn', guard: 'LEVEL_1', rateLimit: WEBAUTHN_REGULATION, hosts: 'portal', accepts: 'json', handler: webauthnAssertion },
    { method: 'GET', path: '/api/secondfactor/webauthn/credentials', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', handler: listCredentials },
    { method: 'PUT', path: '/api/secondfactor/webauthn/credential/register', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', accepts: 'json', handler: registrationOptions },
    { method: 'POST', path: '/api/secondfactor/webauthn/credential/register', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', accepts: 'json', handler: registerCredential },
    { method: 'DELETE', path: '/api/secondfactor/webauthn/credential/register', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', accepts: 'json', handler: abandonRegistration },
    { method: 'PUT', path: '/api/secondfactor/webauthn/credential/:credentialID', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', accepts: 'json', handler: renameCredentialApi },
    { method: 'DELETE', path: '/api/secondfactor/webauthn/credential/:credentialID', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', accepts: 'json', handler: deleteCredentialApi },
    { method: 'GET', path: '/api/firstfactor/passkey', guard: 'PUBLIC', rateLimit: '30 a minute per address', hosts: 'portal', handler: passkeyOptions },
    { method: 'POST', path: '/api/firstfactor/passkey', guard: 'PUBLIC', rateLimit: WEBAUTHN_REGULATION, hosts: 'portal', accepts: 'json', handler: passkeySignIn },
    ...(shape.oidc ? oidcRows() : []),
    { method: 'GET', path: '/settings/webauthn', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', page: true, handler: webauthnSettingsPage },
    { method: 'POST', path: '/settings/webauthn/:id/rename', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', accepts: 'form', page: true, handler: renameWebauthnForm },
    { method: 'POST', path: '/settings/webauthn/:id/delete', guard: 'ELEVATED', rateLimit: null, hosts: 'portal', accepts: 'form', page: true, handler: deleteWebauthnForm },
  ];
}

/**
 * The OpenID Connect provider (gateway/oidc/): one row per method the specifications name for each
 * endpoint; the endpoints a browser application may call from another origin answer a CORS preflight
 * (OPTIONS), which oidc-provider allows per `identity_providers.oidc.cors`.
 */
function oidcRows(): PortalRoute[] {
  type Method = 'GET' | 'POST' | 'OPTIONS';
  const endpoint = (method: Method, path: string, guard: 'PUBLIC' | OidcGuard, rateLimit: string | null = null): PortalRoute => ({ method, path, guard, rateLimit, hosts: 'portal', sessionless: true, handler: oidcEndpoint });
  const clientAuth = (path: string) => [endpoint('POST', path, 'CLIENT_AUTH', CLIENT_SECRET_CHECKS), endpoint('OPTIONS', path, 'PUBLIC')];
  return [
    endpoint('GET', '/.well-known/openid-configuration', 'PUBLIC'),
    { method: 'GET', path: '/.well-known/oauth-authorization-server', guard: 'PUBLIC', rateLimit: null, hosts: 'portal', sessionless: true, handler: authorizationServerMetadata },
    endpoint('GET', OIDC_PATHS.authorization, 'PUBLIC'),
    endpoint('POST', OIDC_PATHS.authorization, 'PUBLIC'),
    endpoint('GET', `${OIDC_PATHS.authorization}/:uid`, 'PUBLIC'),
    ...clientAuth(OIDC_PATHS.pushed_authorization_request),
    ...clientAuth(OIDC_PATHS.token),
    ...clientAuth(OIDC_PATHS.introspection),
    ...clientAuth(OIDC_PATHS.revocation),
    endpoint('GET', OIDC_PATHS.userinfo, 'ACCESS_TOKEN'),
    endpoint('POST', OIDC_PATHS.userinfo, 'ACCESS_TOKEN'),
    endpoint('OPTIONS', OIDC_PATHS.userinfo, 'PUBLIC'),
    endpoint('GET', OIDC_PATHS.end_session, 'PUBLIC'),
    endpoint('POST', OIDC_PATHS.end_session, 'PUBLIC'),
    // the confirmation reads the gateway session: a confirmed logout ends it too
    { method: 'POST', path: `${OIDC_PATHS.end_session}/confirm`, guard: 'PUBLIC', rateLimit: null, hosts: 'portal', handler: endSessionConfirm },
    endpoint('GET', `${OIDC_PATHS.end_session}/success`, 'PUBLIC'),
    { method: 'GET', path: `${INTERACTION_PATH}:uid`, guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', page: true, handler: interactionPage },
    { method: 'POST', path: `${INTERACTION_PATH}:uid`, guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', accepts: 'form', page: true, handler: interactionForm },
    // remembered consents, revoked from the settings page (which lists them): the app is signed out everywhere
    { method: 'POST', path: '/settings/oidc/consents/:clientId/revoke', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', accepts: 'form', page: true, handler: revokeConsentForm },
    { method: 'DELETE', path: '/api/user/oidc/consents/:clientId', guard: 'LEVEL_1', rateLimit: null, hosts: 'portal', accepts: 'json', handler: revokeConsentHandler },
  ];
}

function shapeOf(config: GatewayConfig): RouteShape {
  return {
    oidc: config.identity_providers?.oidc !== undefined,
    authzEndpoints: configuredAuthzEndpoints(config.server.endpoints?.authz),
    identityAssertion: config.identity_assertion !== undefined,
    upstreams: Object.keys(config.server.upstreams).length > 0,
  };
}

/**
 * The rows as `gatehouse routes` prints them: those `config` serves, or without one every row any
 * configuration may serve (/jwks.json needs identity_assertion, `/*` needs server.upstreams). Portal
 * paths are relative to the path of each session.cookies authelia_url, the others to server.address's
 * path (none by default).
 */
export function describeGatewayRoutes(config?: GatewayConfig): GatewayRouteSummary[] {
  return gatewayRouteTable(config ? shapeOf(config) : EVERY_ROW).map(({ method, path, guard, rateLimit, hosts }) => ({ method, path, guard, rateLimit, hosts }));
}

/** Whether a request's method is one the row answers; GET rows answer HEAD too, as express's do. */
function answersMethod(row: RouteMethod, method: string | undefined): boolean {
  return row === 'ANY' || row === method || (row === 'GET' && method === 'HEAD');
}

function methodNotAllowed(row: RouteMethod, res: ServerResponse): void {
  res.writeHead(405, { Allow: row === 'GET' ? 'GET, HEAD' : row, 'Cache-Control': 'no-store', 'Content-Length': '0' });
  res.end();
}

/** One node handler per path, refusing a method its row does not name. */
function nodeRoutes(rows: readonly NodeRoute[], deps: RouteDeps): Map<string, NodeHandler> {
  return new Map(
    rows.map((row) => {
      const handler = row.handler(deps);
      return [row.path, (req, res) => (answersMethod(row.method, req.method) ? handler(req, res) : methodNotAllowed(row.method, res))];
    }),
  );
}

const ROUTER_METHOD = { GET: 'get', HEAD: 'head', POST: 'post', PUT: 'put', PATCH: 'patch', DELETE: 'delete', OPTIONS: 'options', ANY: 'all' } as const;

function portalRouter(rows: readonly (PortalRoute | NodeRoute)[], deps: RouteDeps): express.Router {
  const p = deps.portal;
  const bodies = {
    // the origin is checked before a JSON body is read; a form is read first, as the browser posts it
    json: [requireJsonSameOrigin, express.json({ limit: '16kb', type: 'application/json' })],
    form: [express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 }), requireFormSameOrigin],
  };
  const r = express.Router({ strict: false });
  const mount = (row: PortalRoute | NodeRoute, chain: RequestHandler[]) => {
    if (row.path.endsWith('/*')) r.use(row.path.slice(0, -2), ...chain);
    else r[ROUTER_METHOD[row.method]](row.path, ...chain);
  };
  const sessionless = (row: PortalRoute | NodeRoute) => row.hosts !== 'portal' || row.sessionless === true;
  for (const row of rows.filter(sessionless)) mount(row, [row.hosts === 'portal' ? row.handler(p) : row.handler(deps)]);
  // every row below reads the session of the request's cookie domain
  r.use(portalSessions(deps.cookieDomains, p.sessions, deps.sessionSecret, deps.authz.isTrustedProxy));
  // keeps the signed-in sessions list current (at most one write a minute per session); portal only
  r.use(sessionActivity(p));
  for (const row of rows) {
    if (sessionless(row) || row.hosts !== 'portal') continue;
    if (row.guard === 'CLIENT_AUTH' || row.guard === 'ACCESS_TOKEN') throw new InternalError('route_table_invalid', `route table: ${row.path} checks its own callers, so it must be sessionless`);
    mount(row, [...(row.guard === 'PUBLIC' ? [] : [guardMiddleware(row.guard, p, 'page' in row && row.page === true)]), ...(row.accepts ? bodies[row.accepts] : []), row.handler(p)]);
  }
  return r;
}

export function buildRoutes(deps: RouteDeps): Routes {
  const rows = gatewayRouteTable({
    authzEndpoints: deps.authzEndpoints ?? DEFAULT_AUTHZ_ENDPOINTS,
    identityAssertion: deps.authz.assertions !== undefined,
    upstreams: deps.proxy !== null,
    oidc: deps.portal.oidc !== undefined && deps.portal.oidc !== null,
  });
  assertDistinctRoutes(rows);
  const nodeRows = rows.filter((row): row is NodeRoute => row.hosts === 'every-host' || row.hosts === 'unproxied-hosts');
  /** Plain node handlers, no express or session middleware: the forward-auth hot path. */
  const everyHost = nodeRoutes(nodeRows.filter((row) => row.hosts === 'every-host'), deps);
  const unproxied = nodeRoutes(nodeRows.filter((row) => row.hosts === 'unproxied-hosts'), deps);
  let proxyRequest: ((req: IncomingMessage, res: ServerResponse, host: string) => void) | null = null;
  let proxyUpgrade: ((req: IncomingMessage, socket: Socket, head: Buffer, host: string) => void) | null = null;
  for (const row of rows) {
    if (row.hosts !== 'upstream-hosts') continue;
    if (row.method === 'ANY') proxyRequest = row.handler(proxyOf(deps.proxy));
    else proxyUpgrade = row.upgrade(proxyOf(deps.proxy));
  }
  const portalRows = rows.filter((row): row is PortalRoute | NodeRoute => row.hosts === 'portal' || row.hosts === 'unproxied-hosts');

  const prefix = deps.pathPrefix ?? '';
  // the embedded proxy takes whole hosts, which no path prefix can hold (validation refuses the pair)
  if (prefix !== '' && deps.proxy) throw new InternalError('route_table_invalid', 'route table: server.upstreams with a path in server.address');
  /** The request's path below the prefix, or null when it is not under it. */
  const belowPrefix = (path: string): string | null => {
    if (prefix === '') return path;
    if (!path.startsWith(prefix)) return null;
    const rest = path.slice(prefix.length);
    return rest === '' || rest.startsWith('/') ? rest : null;
  };
  /**
   * The path a node row (forward auth, /api/verify, health, /jwks.json) is matched against: below the
   * prefix, or as it is, as Authelia's StripPath does, so a proxy calling /api/verify keeps working
   * when a path is added. A spelling that is not the prefix (`/AUTH/…`) matches no row.
   */
  const rowPathOf = (path: string): string => belowPrefix(path) ?? path;

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', (addr: string) => deps.authz.isTrustedProxy(addr));
  app.set('query parser', 'simple');
  app.use(securityHeaders(deps.cookieDomains.map((d) => d.domain)));
  // deny: outside the prefix nothing answers; the portal mounts below match case-insensitively (`/AUTH/`)
  if (prefix !== '') app.use((req, res, next) => (belowPrefix(req.path) === null ? notFound(req, res) : next()));
  // a legacy cookie's portal (no authelia_url) is at the prefix (or the root) of whichever host a request names
  const portalPaths = new Set(deps.cookieDomains.map((d) => (d.portalUrl ? portalBasePath(d.portalUrl) : prefix)));
  for (const path of portalPaths) {
    if (path === '') app.use(portalRouter(portalRows, deps));
    else {
      app.get(path, (req, res, next) => {
        // only the bare path: non-strict routing matches `/auth/` here too, and that is the portal itself
        if (req.path !== path) return next();
        res.redirect(301, `${path}/${req.url.slice(path.length)}`);
      });
      app.use(path, portalRouter(portalRows, deps));
    }
  }
  app.use(notFound);
  app.use(errorHandler(deps.portal.logger));

  // a host with an upstream goes to the app, except the portal's own paths on the portal's host
  const portalHosts = new Map(deps.cookieDomains.flatMap((d) => (d.portalUrl ? [[d.portalUrl.hostname, portalBasePath(d.portalUrl)] as const] : [])));
  const isPortal = (host: string, path: string) => {
    const base = portalHosts.get(host);
    return base !== undefined && isUnderPortalPath(path, base);
  };
  const badHost = (res: ServerResponse) => {
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end('400 Bad Request: the Host header is missing or not in canonical form.');
  };
  const pathOf = (req: IncomingMessage) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    return q === -1 ? url : url.slice(0, q);
  };

  return {
    request(req, res) {
      const rawPath = pathOf(req);
      const path = rowPathOf(rawPath);
      const handler = everyHost.get(path);
      if (handler) return handler(req, res);
      if (proxyRequest) {
        // route on the host the rules will judge, computed once: a Host the URL parser reads as another
        // host (`www.example.test.`, `www%2eexample.test`) would otherwise pick `default` under www's rule
        const host = canonicalRequestHost(req.headers.host);
        if (host === null) return badHost(res);
        if (deps.proxy!.proxies(host) && !isPortal(host, rawPath)) return proxyRequest(req, res, host);
      }
      const unproxiedHandler = unproxied.get(path);
      if (unproxiedHandler) return unproxiedHandler(req, res);
      // an error after the error handler answered (express-session reports a failed store write when the
      // response ends) goes to our log; express's default handler would print its stack on stderr
      app(req as Request, res as Response, (error?: unknown) => {
        if (error) deps.portal.logger.error({ err: error }, 'portal: error after the response');
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
          res.end(JSON.stringify({ status: 'KO', message: 'Internal error.' }));
        }
      });
    },
    upgrade(req, socket, head) {
      if (proxyUpgrade) {
        // the same canonical host as for requests (see above)
        const host = canonicalRequestHost(req.headers.host);
        if (host === null) return void socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        if (deps.proxy!.proxies(host) && !isPortal(host, pathOf(req))) return proxyUpgrade(req, socket, head, host);
      }
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    },
  };
}
