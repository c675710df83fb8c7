/**
 * `identity_providers.oidc`: the OpenID Connect provider, in Authelia 4.39's key names and defaults
 * (internal/configuration/schema/identity_providers.go and validator/identity_providers.go). Cross-field
 * checks live in validate/identity-providers.ts; the provider is gateway/oidc/.
 *
 * Every object forbids unknown keys, as the rest of the configuration does. Authelia's options that
 * Gatehouse does not read (the per-client JOSE options `*_signed_response_key_id`, `*_encrypted_response_*`,
 * `jwks_uri`, …) are listed in AUTHELIA_ONLY_* so an Authelia file carrying them still loads; the provider
 * must refuse or warn about any of them it does not honour once it is served.
 */
import { z } from 'zod';
import { duration, stringList } from '../../lib/config-fields.ts';

export const OIDC_POLICIES = ['one_factor', 'two_factor', 'deny'] as const;
export const CONSENT_MODES = ['auto', 'explicit', 'implicit', 'pre-configured'] as const;
export const GRANT_TYPES = ['authorization_code', 'implicit', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code'] as const;
export const RESPONSE_TYPES = ['code', 'id_token', 'token', 'id_token token', 'code id_token', 'code token', 'code id_token token', 'none'] as const;
export const TOKEN_ENDPOINT_AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt'] as const;
export const SIGNING_ALGS = ['none', 'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'] as const;

/** Keys accepted so an Authelia file loads, and not read. */
function accepted<const K extends string>(keys: readonly K[]): Record<K, z.ZodOptional<z.ZodUnknown>> {
  return Object.fromEntries(keys.map((key) => [key, z.unknown().optional()])) as Record<K, z.ZodOptional<z.ZodUnknown>>;
}

export const AUTHELIA_ONLY_PROVIDER_KEYS = [
  'enable_client_debug_messages', 'enable_jwt_access_token_stateless_introspection', 'discovery_signed_response_alg',
  'discovery_signed_response_key_id',
] as const;

export const AUTHELIA_ONLY_CLIENT_KEYS = [
  'sector_identifier_uri', 'request_uris', 'requested_audience_mode',
  'authorization_signed_response_alg', 'authorization_signed_response_key_id', 'authorization_encrypted_response_alg',
  'authorization_encrypted_response_enc', 'authorization_encrypted_response_key_id', 'id_token_signed_response_key_id',
  'id_token_encrypted_response_alg', 'id_token_encrypted_response_enc', 'id_token_encrypted_response_key_id',
  'access_token_signed_response_alg', 'access_token_signed_response_key_id', 'access_token_encrypted_response_alg',
  'access_token_encrypted_response_enc', 'access_token_encrypted_response_key_id', 'userinfo_signed_response_key_id',
  'userinfo_encrypted_response_alg', 'userinfo_encrypted_response_enc', 'userinfo_encrypted_response_key_id',
  'introspection_signed_response_alg', 'introspection_signed_response_key_id', 'introspection_encrypted_response_alg',
  'introspection_encrypted_response_enc', 'introspection_encrypted_response_key_id', 'request_object_signing_alg',
  'request_object_encryption_alg', 'request_object_encryption_enc', 'token_endpoint_auth_signing_alg',
  'revocation_endpoint_auth_method', 'revocation_endpoint_auth_signing_alg', 'introspection_endpoint_auth_method',
  'introspection_endpoint_auth_signing_alg', 'pushed_authorization_request_endpoint_auth_method',
  'pushed_authorization_request_endpoint_auth_signing_alg', 'allow_multiple_auth_methods', 'jwks_uri', 'jwks',
] as const;

const jwk = z.strictObject({
  key_id: z.string().max(100).optional(),
  algorithm: z.enum(SIGNING_ALGS).exclude(['none', 'HS256', 'HS384', 'HS512']).optional(),
  use: z.literal('sig').default('sig'),
  /** A PEM private key (RSA or EC). */
  key: z.string().min(1),
  /** PEM certificates, the first one for `key`; not published (no x5c), a warning says so. */
  certificate_chain: z.string().optional(),
});

const lifespanToken = {
  access_token: duration('1h'),
  authorize_code: duration('1m'),
  id_token: duration('1h'),
  refresh_token: duration('90m'),
};

const customLifespan = z.strictObject({
  access_token: duration().optional(),
  authorize_code: duration().optional(),
  id_token: duration().optional(),
  refresh_token: duration().optional(),
  ...accepted(['device_code', 'grants']),
});

const lifespans = z.strictObject({
  ...lifespanToken,
  ...accepted(['device_code', 'jwt_secured_authorization']),
  /** Named lifespans a client picks with its `lifespan` key. */
  custom: z.record(z.string(), customLifespan).default({}),
});

const policyRule = z.strictObject({
  policy: z.enum(OIDC_POLICIES),
  subject: z
    .union([z.string(), z.array(z.union([z.string(), z.array(z.string())]))])
    .transform((v) => (typeof v === 'string' ? [v] : v))
    .optional(),
  networks: stringList().optional(),
});

const authorizationPolicy = z.strictObject({
  default_policy: z.enum(OIDC_POLICIES).default('two_factor'),
  rules: z.array(policyRule).default([]),
});

const claimsPolicy = z.strictObject({
  id_token: z.array(z.string()).optional(),
  access_token: z.array(z.string()).optional(),
  id_token_audience_mode: z.enum(['specification', 'experimental-merged']).optional(),
  custom_claims: z.record(z.string(), z.strictObject({ name: z.string().optional(), attribute: z.string().optional() })).optional(),
});

const customScope = z.strictObject({ claims: z.array(z.string()).default([]) });

const cors = z.strictObject({
  endpoints: z.array(z.enum(['authorization', 'pushed-authorization-request', 'token', 'revocation', 'introspection', 'userinfo'])).default([]),
  allowed_origins: stringList().default([]),
  allowed_origins_from_client_redirect_uris: z.boolean().default(false),
});

const client = z.strictObject({
  ...accepted(AUTHELIA_ONLY_CLIENT_KEYS),
  client_id: z.string().min(1).max(100),
  client_name: z.string().optional(),
  /** A digest (`$pbkdf2-sha512$…`, `$argon2id$…`) or `$plaintext$…`; absent for a public client. */
  client_secret: z.string().optional(),
  public: z.boolean().default(false),
  redirect_uris: stringList().default([]),
  audience: stringList().default([]),
  scopes: stringList().default(['openid', 'groups', 'profile', 'email']),
  grant_types: z.array(z.enum(GRANT_TYPES)).default(['authorization_code']),
  response_types: z.array(z.enum(RESPONSE_TYPES)).default(['code']),
  /** Not read: every client may use query, fragment and form_post; a list narrower than that is refused (validate/). */
  response_modes: z.array(z.enum(['form_post', 'query', 'fragment', 'jwt', 'form_post.jwt', 'query.jwt', 'fragment.jwt'])).optional(),
  /** Defaults to `none` for a public client and `client_secret_basic` for a confidential one (validate/). */
  token_endpoint_auth_method: z.enum(TOKEN_ENDPOINT_AUTH_METHODS).optional(),
  require_pkce: z.boolean().default(false),
  pkce_challenge_method: z.union([z.literal(''), z.enum(['plain', 'S256'])]).default(''),
  authorization_policy: z.string().default('two_factor'),
  consent_mode: z.enum(CONSENT_MODES).default('auto'),
  pre_configured_consent_duration: duration().optional(),
  post_logout_redirect_uris: stringList().default([]),
  backchannel_logout_uri: z.string().optional(),
  userinfo_signed_response_alg: z.enum(SIGNING_ALGS).default('none'),
  id_token_signed_response_alg: z.enum(SIGNING_ALGS).exclude(['none']).default('RS256'),
  /** The name of an entry of `lifespans.custom`. */
  lifespan: z.string().optional(),
  claims_policy: z.string().optional(),
  /** Authorization requests must be pushed first (PAR); also the provider-wide key. */
  require_pushed_authorization_requests: z.boolean().default(false),
});

export const oidcProvider = z.strictObject({
  ...accepted(AUTHELIA_ONLY_PROVIDER_KEYS),
  hmac_secret: z.string().optional(),
  require_pushed_authorization_requests: z.boolean().default(false),
  jwks: z.array(jwk).default([]),
  lifespans: lifespans.prefault({}),
  enforce_pkce: z.enum(['public_clients_only', 'never', 'always']).default('public_clients_only'),
  enable_pkce_plain_challenge: z.boolean().default(false),
  /** The shortest state and nonce accepted (Authelia's default 8; 0 means 8; -1 turns the check off, warned). */
  minimum_parameter_entropy: z.number().int().min(-1).optional(),
  cors: cors.prefault({}),
  claims_policies: z.record(z.string(), claimsPolicy).default({}),
  scopes: z.record(z.string(), customScope).default({}),
  authorization_policies: z.record(z.string(), authorizationPolicy).default({}),
  clients: z.array(client).default([]),
});

export const identityProviders = z.strictObject({ oidc: oidcProvider.optional() });

export type OidcProviderConfig = z.output<typeof oidcProvider>;
export type OidcClientConfig = OidcProviderConfig['clients'][number];
