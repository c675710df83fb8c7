/**
 * The OpenID Connect provider: panva's oidc-provider (OpenID Certified), configured from
 * `identity_providers.oidc` and wired to the gateway's users, storage and portal. Its endpoints are rows
 * of the gateway's route table (routes.ts) that hand the request to `handle`.
 *
 * What is on, and why (the README's "OpenID Connect provider" section says the same to operators):
 * - authorization code (+ PKCE, S256 only), refresh tokens (rotated), client credentials, PAR,
 *   introspection, revocation, userinfo (signed when the client asks), RP-initiated and back-channel
 *   logout, the `claims` request parameter.
 * - off: dynamic registration (clients come from the configuration), device flow and CIBA (no UI for
 *   them yet), DPoP and mTLS (no client here needs them), the built-in development login pages.
 *
 * Every authorization request goes through the portal's interaction page: the gateway session decides
 * who the user is and with which factors, so the provider's own session never outlives or outranks it.
 */
import { createPublicKey } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { JWK } from 'jose';
import type { OidcClientConfig, OidcProviderConfig } from '../config/oidc-schema.ts';
import type { OidcRepository } from '../storage/oidc.ts';
import type { UserProvider } from '../users/provider.ts';
import { storageAdapter } from './adapter.ts';
import { clientSecretChecker, type ClientSecretChecker } from './client-auth.ts';
import { BEARER_AUTHZ_SCOPE } from './bearer.ts';
import { scopeClaims, claimsOf, customClaimsOf } from './claims.ts';
import { createUserAttributeResolver, type UserAttributeResolver } from '../expression/user-attributes.ts';
import type { SigningKeys } from './keys.ts';

/** The paths of the provider's endpoints under the portal (Authelia's, plus end-session). */
export const OIDC_PATHS = {
  authorization: '/api/oidc/authorization',
  pushed_authorization_request: '/api/oidc/pushed-authorization-request',
  token: '/api/oidc/token',
  userinfo: '/api/oidc/userinfo',
  introspection: '/api/oidc/introspection',
  revocation: '/api/oidc/revocation',
  end_session: '/api/oidc/end-session',
  jwks: '/jwks.json',
} as const;

/** oidc-provider's route names → the names `identity_providers.oidc.cors.endpoints` uses. */
const CORS_ENDPOINT_OF: Readonly<Record<string, 'token' | 'revocation' | 'introspection' | 'userinfo' | 'pushed-authorization-request'>> = {
  token: 'token',
  revocation: 'revocation',
  introspection: 'introspection',
  userinfo: 'userinfo',
  pushed_authorization_request: 'pushed-authorization-request',
};

/** The portal page an authorization request is handed to (the gateway session decides there). */
export const INTERACTION_PATH = '/oidc/interaction/';

export interface OidcPages {
  /** The logout confirmation (oidc-provider's logoutSource), in the request's language. */
  logout(ctx: KoaContext, form: string): void | Promise<void>;
  /** After an RP-initiated logout with no post_logout_redirect_uri. */
  loggedOut(ctx: KoaContext): void | Promise<void>;
  /** An error the user sees (never an exception's text). */
  error(ctx: KoaContext, out: { error: string; error_description?: string }): void | Promise<void>;
}

/** The slice of a Koa context the pages and hooks read. */
export interface KoaContext {
  req: IncomingMessage;
  res: ServerResponse;
  body: unknown;
  type: string;
  status: number;
  host: string;
  oidc?: any;
}

export interface OidcProviderDeps {
  config: OidcProviderConfig;
  /** The portal URL without its trailing slash. */
  issuer: string;
  /** server.address's path ('' for none): the gateway's own /jwks.json is served under it. */
  serverPath?: string;
  repo: OidcRepository;
  users: Pick<UserProvider, 'getDetails'>;
  /** Attributes by Authelia's names (`definitions.user_attributes` included); built-in ones only when absent. */
  userAttributes?: UserAttributeResolver;
  keys: SigningKeys;
  hmacSecret: string;
  /** How long a provider session may live (the gateway's longest session), seconds. */
  sessionTtlSec: number;
  isTrustedProxy: (ip: string) => boolean;
  pages: OidcPages;
  logger: Logger;
  now: () => number;
  /** Checks client secrets (limited, audited); one is made when absent. */
  secrets?: ClientSecretChecker;
  /**
   * A `prompt=none` request: whether the gateway session of `req` lets it through without the portal
   * (the same user as the provider session, started by this gateway session, at the client's level,
   * consent covered). Absent: such a request always answers login_required.
   */
  silent?: (req: IncomingMessage, client: OidcClientConfig, session: { uid: string; accountId: string }, params: Record<string, string | undefined>) => Promise<boolean>;
}

export interface OidcProvider {
  /** oidc-provider's Provider (typed loosely: its own types are not shipped). */
  provider: any;
  issuer: string;
  /** The request to one of the provider's endpoints. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Every client, by id, as configured. */
  clients: ReadonlyMap<string, OidcClientConfig>;
  publicJwks: JWK[];
  /** Subscribes to the end of an authorization (the resume step): ties the provider session to the gateway one. */
  onAuthorized(listener: (event: { sessionUid: string; accountId: string; linkKey: string; username: string }) => Promise<void>): void;
}

/** Set by the end-session confirmation row (oidc/endpoints.ts): ends the gateway session of `accountId`'s user. */
interface LogoutRequestHook {
  endGatewaySession?: (accountId: string | undefined) => Promise<void>;
}

const FORWARDED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded'];

/** oidc-provider's client metadata for one configured client. */
function clientMetadata(client: OidcClientConfig, secrets: ClientSecretChecker): Record<string, unknown> {
  const method = client.token_endpoint_auth_method ?? (client.public ? 'none' : 'client_secret_basic');
  const nonHttp = client.redirect_uris.some((uri) => !/^https?:/i.test(uri));
  return {
    client_id: client.client_id,
    client_name: client.client_name ?? client.client_id,
    ...(method === 'none' || method === 'private_key_jwt' ? {} : { client_secret: secrets.providerSecret(client) }),
    redirect_uris: client.redirect_uris,
    post_logout_redirect_uris: client.post_logout_redirect_uris,
    grant_types: client.grant_types,
    response_types: client.response_types,
    token_endpoint_auth_method: method,
    id_token_signed_response_alg: client.id_token_signed_response_alg,
    ...(client.userinfo_signed_response_alg !== 'none' ? { userinfo_signed_response_alg: client.userinfo_signed_response_alg } : {}),
    ...(client.backchannel_logout_uri ? { backchannel_logout_uri: client.backchannel_logout_uri, backchannel_logout_session_required: true } : {}),
    ...clientKeys(client),
    ...(client.require_pushed_authorization_requests ? { require_pushed_authorization_requests: true } : {}),
    scope: client.scopes.join(' '),
    // a custom scheme (an app's own) makes it a native client; anything http(s) is a web client
    application_type: nonHttp ? 'native' : 'web',
  };
}

/** private_key_jwt: the client's public keys (Authelia's `jwks` with PEM keys, or `jwks_uri`). */
function clientKeys(client: OidcClientConfig): Record<string, unknown> {
  const raw = client as OidcClientConfig & { jwks?: unknown; jwks_uri?: unknown };
  if (typeof raw.jwks_uri === 'string') return { jwks_uri: raw.jwks_uri };
  if (Array.isArray(raw.jwks) && raw.jwks.length > 0) {
    const keys = raw.jwks.map((entry: { key?: string; key_id?: string; algorithm?: string }) => {
      const jwk = createPublicKey(String(entry.key)).export({ format: 'jwk' }) as JWK;
      return { ...jwk, use: 'sig', ...(entry.key_id ? { kid: entry.key_id } : {}), ...(entry.algorithm ? { alg: entry.algorithm } : {}) };
    });
    return { jwks: { keys } };
  }
  return {};
}

function lifespanOf(config: OidcProviderConfig, clientId: string | undefined, clients: ReadonlyMap<string, OidcClientConfig>, kind: 'access_token' | 'authorize_code' | 'id_token' | 'refresh_token'): number {
  const named = clientId === undefined ? undefined : clients.get(clientId)?.lifespan;
  const custom = named === undefined ? undefined : config.lifespans.custom[named]?.[kind];
  return custom ?? config.lifespans[kind];
}

/** The scope the token being issued was granted (the code's, or the refresh token's). */
function grantedScopeOf(ctx: any): string {
  const entities = ctx?.oidc?.entities ?? {};
  return String(entities.AuthorizationCode?.scope ?? entities.RefreshToken?.scope ?? '');
}

/** The claims a client's claims policy puts in its ID tokens, limited to those `scope` releases. */
export function idTokenClaimsFor(config: OidcProviderConfig, client: OidcClientConfig | undefined, scope: string): string[] {
  const wanted = client?.claims_policy === undefined ? undefined : config.claims_policies[client.claims_policy]?.id_token;
  if (!wanted || wanted.length === 0) return [];
  const released = new Set(scope.split(' ').flatMap((name) => scopeClaims(config)[name] ?? []));
  return wanted.filter((claim) => released.has(claim));
}

/** Authelia's (fosite's) default and floor for `minimum_parameter_entropy`. */
export const MINIMUM_PARAMETER_ENTROPY = 8;

/** The extraParams validators refusing a short state or nonce; none when the check is off (-1). */
export function parameterEntropyChecks(configured: number | undefined, invalid: new (description: string) => Error): Record<string, (ctx: unknown, value: unknown) => void> {
  const minimum = configured === undefined || configured === 0 ? MINIMUM_PARAMETER_ENTROPY : configured;
  if (minimum < 0) return {};
  const check = (name: string) => (_ctx: unknown, value: unknown) => {
    // absent is the client's choice (PKCE or the code flow's own checks); present, it must be long enough
    if (typeof value === 'string' && value.length < minimum) {
      throw new invalid(`the ${name} parameter has insufficient entropy: at least ${minimum} characters are required`);
    }
  };
  return { state: check('state'), nonce: check('nonce') };
}

export async function createOidcProvider(deps: OidcProviderDeps): Promise<OidcProvider> {
  // loaded only when identity_providers.oidc is configured
  const { default: Provider, interactionPolicy, errors } = await import('oidc-provider');
  const { config, repo, now } = deps;
  const renamedUser = async (sub: string, remembered: string) => {
    const username = await repo.usernameForSubject(sub, { fresh: true });
    return username === undefined || username === remembered ? null : deps.users.getDetails(username);
  };
  const clients = new Map(config.clients.map((client) => [client.client_id, client]));
  const attributes = deps.userAttributes ?? createUserAttributeResolver();
  const secrets = deps.secrets ?? clientSecretChecker({ now, logger: deps.logger });
  const listeners: Array<(event: { sessionUid: string; accountId: string; linkKey: string; username: string }) => Promise<void>> = [];

  // the login prompt always asks the portal first, unless this very request comes back from it
  const policy = interactionPolicy.base();
  // (prompt=none: the gateway session may answer without the page, when the page would have finished at once)
  policy.get('login')!.checks.add(
    new interactionPolicy.Check('gatehouse_session', 'the gateway session decides who signs in, and with which factors', 'login_required', async (ctx: any) => {
      if (ctx.oidc.result?.gatehouse) return false;
      const session = ctx.oidc.session;
      const client = clients.get(ctx.oidc.client?.clientId ?? '');
      if (!ctx.oidc.prompts.has('none') || !deps.silent || !client || !session?.accountId) return true;
      return !(await deps.silent(ctx.req, client, { uid: session.uid, accountId: session.accountId }, ctx.oidc.params));
    }),
    0,
  );

  const customScopes = Object.keys(config.scopes);
  // as oidc-provider spells them when it fetches (new URL(uri).href): `http://app` is fetched as `http://app/`
  const backchannelUris = new Set(config.clients.flatMap((c) => (c.backchannel_logout_uri ? [new URL(c.backchannel_logout_uri).href] : [])));
  const ttl = (kind: 'access_token' | 'authorize_code' | 'id_token' | 'refresh_token') => (_ctx: unknown, _token: unknown, client: { clientId?: string } | undefined) =>
    lifespanOf(config, client?.clientId, clients, kind);

  const provider = new Provider(deps.issuer, {
    adapter: storageAdapter(repo, now),
    clients: config.clients.map((client) => clientMetadata(client, secrets)),
    jwks: { keys: deps.keys.privateJwks },
    cookies: {
      keys: [deps.hmacSecret],
      names: { session: 'gatehouse_oidc_session', interaction: 'gatehouse_oidc_interaction', resume: 'gatehouse_oidc_resume' },
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    routes: { ...OIDC_PATHS },
    // authelia.bearer.authz: the token may be a forward-auth credential (oidc/bearer.ts)
    scopes: ['openid', 'offline_access', 'profile', 'email', 'phone', 'address', 'groups', BEARER_AUTHZ_SCOPE, ...customScopes],
    // a copy: oidc-provider normalises its configuration in place
    claims: structuredClone(scopeClaims(config)),
    conformIdTokenClaims: true,
    pkce: {
      required: (_ctx: unknown, client: { clientId: string; clientAuthMethod: string }) => {
        const configured = clients.get(client.clientId);
        if (configured?.require_pkce || configured?.pkce_challenge_method === 'S256') return true;
        if (config.enforce_pkce === 'always') return true;
        return config.enforce_pkce === 'public_clients_only' && client.clientAuthMethod === 'none';
      },
    },
    responseTypes: [...new Set<string>([...config.clients.flatMap((c) => c.response_types), 'none'])],
    // Authelia's minimum_parameter_entropy: a state or nonce shorter than this is refused (they are the
    // client's anti-CSRF and anti-replay values); -1 turns the check off (warned). Validators run on
    // every authorization and pushed authorization request (oidc-provider's checkExtraParams)
    extraParams: parameterEntropyChecks(config.minimum_parameter_entropy, errors.InvalidRequest),
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      clientCredentials: { enabled: true },
      // a client learns about, and revokes, only the tokens issued to it (oidc-provider's default lets any
      // confidential client introspect every token: another app's user, scopes and expiry)
      introspection: { enabled: true, allowedPolicy: (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) => token.clientId === client.clientId },
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) => {
          if (token.clientId === client.clientId) return true;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      userinfo: { enabled: true },
      jwtUserinfo: { enabled: true },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: config.require_pushed_authorization_requests },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx: KoaContext, form: string) => deps.pages.logout(ctx, form),
        postLogoutSuccessSource: (ctx: KoaContext) => deps.pages.loggedOut(ctx),
      },
      resourceIndicators: { enabled: false },
    },
    interactions: {
      policy,
      url: (_ctx: unknown, interaction: { uid: string }) => `${new URL(deps.issuer).pathname.replace(/\/$/, '')}${INTERACTION_PATH}${interaction.uid}`,
    },
    ttl: {
      AccessToken: ttl('access_token'),
      ClientCredentials: ttl('access_token'),
      AuthorizationCode: ttl('authorize_code'),
      IdToken: ttl('id_token'),
      RefreshToken: ttl('refresh_token'),
      Interaction: 30 * 60,
      Session: deps.sessionTtlSec,
      // a grant outlives its refresh tokens (each refresh makes a new one); revoked with consent or logout
      Grant: 90 * 24 * 3600,
    },
    // Authelia issues a refresh token whenever the client may refresh and offline_access was granted
    issueRefreshToken: async (_ctx: unknown, client: any, code: any) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    // an access token carries the factors of the sign-in that granted it (from its code or refresh
    // token), so forward auth (oidc/bearer.ts) judges it at that level; introspection shows them too
    extraTokenClaims: (ctx: any, token: { kind: string }) => {
      if (token.kind !== 'AccessToken') return undefined;
      const from = ctx?.oidc?.entities?.AuthorizationCode ?? ctx?.oidc?.entities?.RefreshToken;
      return Array.isArray(from?.amr) ? { amr: from.amr } : undefined;
    },
    // rotate every time: a refresh token works once (reuse revokes the grant)
    rotateRefreshToken: () => true,
    findAccount: async (ctx: any, sub: string) => {
      const username = await repo.usernameForSubject(sub);
      if (username === undefined) return undefined;
      // a remembered name gone from the users file may have been renamed (gatehouse users rename): ask again
      const user = (await deps.users.getDetails(username)) ?? (await renamedUser(sub, username));
      // a removed or disabled user has no account: their tokens stop working
      if (user === null) return undefined;
      const client = clients.get(ctx?.oidc?.client?.clientId ?? '');
      return { accountId: sub, claims: async () => ({ ...customClaimsOf(config, client, user, attributes), ...claimsOf(sub, user) }) };
    },
    // cors.endpoints names where a browser application of another origin may call (Authelia's names)
    clientBasedCORS: (ctx: any, origin: string, client: { redirectUris?: string[] }) => {
      const endpoint = CORS_ENDPOINT_OF[String(ctx?.oidc?.route ?? '')];
      if (endpoint === undefined || !config.cors.endpoints.includes(endpoint)) return false;
      if (config.cors.allowed_origins.includes('*') || config.cors.allowed_origins.includes(origin)) return true;
      return config.cors.allowed_origins_from_client_redirect_uris && (client.redirectUris ?? []).some((uri) => new URL(uri).origin === origin);
    },
    renderError: (ctx: KoaContext, out: { error: string; error_description?: string }) => deps.pages.error(ctx, out),
    // the SSRF guard stays on for everything but the back-channel logout URIs the operator configured
    // (homelab apps live on private addresses, which the guard refuses)
    fetch: (url: string | URL, options: RequestInit & { dispatcher?: unknown }) => {
      if (backchannelUris.has(String(url))) delete options.dispatcher;
      return globalThis.fetch(url, options);
    },
    enabledJWA: {
      // HS256 for client_secret_jwt and the clients that sign with their secret; no `none`
      idTokenSigningAlgValues: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'HS256', 'HS384', 'HS512'],
      userinfoSigningAlgValues: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'],
    },
  });
  // X-Forwarded-* is honoured only from a trusted proxy: the wrapper below strips it from anyone else
  provider.proxy = true;
  secrets.install(provider, clients);

  // claims_policies.<name>.id_token: claims the client's ID tokens carry besides sub/acr/amr/auth_time,
  // among those its granted scopes release (oidc-provider puts scope claims in userinfo only)
  const idTokenIssue = provider.IdToken.prototype.issue;
  provider.IdToken.prototype.issue = function issue(this: any, options: { use?: string }) {
    const extra = idTokenClaimsFor(config, clients.get(this.client?.clientId ?? ''), grantedScopeOf(this.ctx));
    if (options?.use === 'idtoken' && extra.length > 0) this.mask = { ...Object.fromEntries(extra.map((claim) => [claim, null])), ...this.mask };
    return idTokenIssue.call(this, options);
  };

  // oidc-provider drops offline_access unless the request said prompt=consent; Gatehouse always asks
  // the portal (which applies the client's consent mode), so a request with offline_access counts as one
  // that asked for consent, as Authelia treats it
  const contextPrototype = provider.OIDCContext.prototype;
  const prompts = Object.getOwnPropertyDescriptor(contextPrototype, 'prompts')!.get!;
  Object.defineProperty(contextPrototype, 'prompts', {
    get(this: { params?: { scope?: string; prompt?: string } }) {
      const asked: Set<string> = prompts.call(this);
      const scope = typeof this.params?.scope === 'string' ? this.params.scope.split(' ') : [];
      if (scope.includes('offline_access') && !asked.has('none')) asked.add('consent');
      return asked;
    },
  });

  provider.use(async (ctx: any, next: () => Promise<void>) => {
    await next();
    const oidc = ctx.oidc;
    // discovery names the one /jwks.json the gateway serves at its root (under server.address's path), wherever the portal lives
    if (oidc?.route === 'discovery' && ctx.body && typeof ctx.body === 'object') ctx.body.jwks_uri = new URL(`${deps.serverPath ?? ''}${OIDC_PATHS.jwks}`, deps.issuer).href;
    // an RP-initiated logout the user confirmed ends the gateway session too (oidc/endpoints.ts), and
    // every grant of the ended provider session: oidc-provider keeps offline_access grants past a logout,
    // Gatehouse's logout ends everything (as a portal sign-out does, oidc/logout.ts)
    if (oidc?.route === 'end_session_confirm' && oidc.params?.logout) {
      const authorizations = (oidc.session?.authorizations ?? {}) as Record<string, { grantId?: string }>;
      for (const { grantId } of Object.values(authorizations)) {
        if (!grantId) continue;
        await repo.revokeByGrantId(grantId);
        await repo.destroy('Grant', grantId);
        // announced as the provider's own revocations are: forward auth's bearer cache forgets its tokens now
        provider.emit('grant.revoked', ctx, grantId);
      }
      // the provider session's account: the gateway session ends only when it is that user's (oidc-provider
      // also ends another account's provider session before resuming a sign-in: that user is not signed out)
      await (ctx.req as LogoutRequestHook).endGatewaySession?.(oidc.session?.accountId);
    }
    const marker = oidc?.result?.gatehouse as { linkKey?: string; username?: string } | undefined;
    if (oidc?.route === 'resume' && marker?.linkKey && marker.username && oidc.session?.uid && oidc.session.accountId) {
      for (const listener of listeners) await listener({ sessionUid: oidc.session.uid, accountId: oidc.session.accountId, linkKey: marker.linkKey, username: marker.username });
    }
  });
  provider.on('server_error', (_ctx: unknown, error: Error) => deps.logger.error({ err: error }, 'oidc: internal error'));
  provider.on('backchannel.error', (client: { clientId: string }, error: Error) => deps.logger.warn({ client: client.clientId, err: error.message }, 'oidc: a back-channel logout was not delivered'));
  provider.on('grant.revoked', (_ctx: unknown, grantId: string) => deps.logger.info({ grant: grantId }, 'oidc: grant revoked'));

  const callback = provider.callback();
  const issuerUrl = new URL(deps.issuer);
  return {
    provider,
    issuer: deps.issuer,
    clients,
    publicJwks: deps.keys.publicJwks,
    onAuthorized: (listener) => void listeners.push(listener),
    handle(req, res) {
      // every URL the provider writes (discovery, redirects, cookies' security) is the issuer's, whatever
      // Host the request came with; the client's address comes from X-Forwarded-For of a trusted proxy only
      const trusted = deps.isTrustedProxy(req.socket.remoteAddress ?? '');
      for (const name of FORWARDED) if (!trusted || name !== 'x-forwarded-for') delete req.headers[name];
      req.headers.host = issuerUrl.host;
      req.headers['x-forwarded-proto'] = issuerUrl.protocol.slice(0, -1);
      callback(req, res);
    },
  };
}
