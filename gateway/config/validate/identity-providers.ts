/**
 * `identity_providers.oidc`: what Authelia's validator refuses (validator/identity_providers.go) and what
 * would make a client unusable. Client secrets are never repeated in a message, only their format.
 */
import { configError, configWarning, shownValue, type ConfigProblem } from '../../../lib/config-problems.ts';
import { clientSecretFormat } from '../../../lib/client-secret.ts';
import { AUTHELIA_ONLY_CLIENT_KEYS, AUTHELIA_ONLY_PROVIDER_KEYS, type OidcClientConfig, type OidcProviderConfig } from '../oidc-schema.ts';

const NO_EFFECT = 'is an Authelia option Gatehouse does not implement yet; it has no effect';
/** Read by the provider despite being in the accepted-only lists (private_key_jwt's keys). */
const READ_CLIENT_KEYS = new Set(['jwks', 'jwks_uri']);
import type { GatewayConfig } from '../schema.ts';
import type { NamedNetworks } from '../definitions.ts';
import { parseCidr } from '../../../lib/net/address.ts';
import { isReservedAttribute, UNAVAILABLE_ATTRIBUTES } from '../../expression/user-attributes.ts';
import { STANDARD_SCOPE_CLAIMS } from '../../oidc/claims.ts';

/** Claims a claims policy may not define (the standard scopes' and the ID token's own). */
const STANDARD_CLAIMS: ReadonlySet<string> = new Set([...Object.values(STANDARD_SCOPE_CLAIMS).flat(), 'iss', 'aud', 'exp', 'iat', 'nbf', 'jti', 'azp', 'nonce', 'at_hash', 'c_hash', 'sid', 'updated_at']);

const BUILT_IN_POLICIES = new Set(['one_factor', 'two_factor']);

/** What `definitions` gives the section: network names its policies' rules may use, user attributes its claims may read. */
export interface OidcDefinitions {
  networks: NamedNetworks;
  userAttributes: readonly string[];
}

export function identityProvidersProblems(section: GatewayConfig['identity_providers'], definitions: OidcDefinitions = { networks: new Map(), userAttributes: [] }): ConfigProblem[] {
  const oidc = section?.oidc;
  if (oidc === undefined) return [];
  const found: ConfigProblem[] = [];
  const setKeys = (object: object, keys: readonly string[], at: string) => {
    for (const key of keys) if ((object as Record<string, unknown>)[key] !== undefined && !READ_CLIENT_KEYS.has(key)) found.push(configWarning(`${at}.${key}`, NO_EFFECT));
  };
  setKeys(oidc, AUTHELIA_ONLY_PROVIDER_KEYS, 'identity_providers.oidc');
  oidc.clients.forEach((client, index) => setKeys(client, AUTHELIA_ONLY_CLIENT_KEYS, `identity_providers.oidc.clients[${index}]`));
  for (const [name, policy] of Object.entries(oidc.claims_policies)) {
    for (const key of ['access_token', 'id_token_audience_mode'] as const) {
      if (policy[key] !== undefined) found.push(configWarning(`identity_providers.oidc.claims_policies.${name}.${key}`, NO_EFFECT));
    }
    found.push(...customClaimProblems(name, policy.custom_claims ?? {}, definitions.userAttributes));
  }
  for (const [name, policy] of Object.entries(oidc.authorization_policies)) {
    policy.rules.forEach((rule, i) => {
      for (const network of rule.networks ?? []) {
        if (!definitions.networks.has(network) && parseCidr(network) === null) {
          found.push(configError(`identity_providers.oidc.authorization_policies.${name}.rules[${i}].networks`, `the network '${shownValue(network)}' is not a network name (definitions.network, access_control.networks), IP, or CIDR notation`));
        }
      }
    });
  }
  found.push(...lifespanProblems(oidc), ...unreadOptionProblems(oidc));
  if (oidc.enable_pkce_plain_challenge) {
    found.push(configWarning('identity_providers.oidc.enable_pkce_plain_challenge', 'has no effect: Gatehouse accepts only S256 code challenges, which every client that supports PKCE can send'));
  }
  const seen = new Set<string>();
  oidc.clients.forEach((client, index) => {
    const at = `identity_providers.oidc.clients[${index}]`;
    if (seen.has(client.client_id)) found.push(configError(`${at}.client_id`, `${shownValue(client.client_id)} is already the id of an earlier client; ids must be unique`));
    seen.add(client.client_id);
    found.push(...clientProblems(oidc, client, at));
  });
  return found;
}

/** As Authelia's validator: a custom claim is not a standard one, and names an attribute users have. */
function customClaimProblems(policy: string, claims: NonNullable<OidcProviderConfig['claims_policies'][string]['custom_claims']>, defined: readonly string[]): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  const at = `identity_providers.oidc.claims_policies.${policy}.custom_claims`;
  const seen = new Map<string, string>();
  for (const [key, claim] of Object.entries(claims)) {
    const name = claim.name ?? key;
    const attribute = claim.attribute ?? key;
    if (STANDARD_CLAIMS.has(name)) found.push(configError(`${at}.${key}`, `claim with name '${name}' can't be used in a claims policy as it's a standard claim`));
    const earlier = seen.get(name);
    if (earlier !== undefined) found.push(configError(`${at}.${key}`, `claim with name '${name}' is mapped in both '${key}' and the '${earlier}' claim configurations`));
    else seen.set(name, key);
    if (Object.hasOwn(UNAVAILABLE_ATTRIBUTES, attribute)) {
      found.push(configError(`${at}.${key}.attribute`, `'${attribute}' is an attribute Gatehouse has no value for: ${UNAVAILABLE_ATTRIBUTES[attribute]}`));
    } else if (!isReservedAttribute(attribute) && !defined.includes(attribute)) {
      // the users file's `extra:` entries have no declaration Gatehouse could check against
      found.push(configWarning(`${at}.${key}.attribute`, `'${attribute}' is neither a built-in attribute nor one under definitions.user_attributes: it is read from each user's extra attributes, and the claim is left out for a user without it`));
    }
  }
  return found;
}

/** The response modes every client may use (oidc-provider's; the JWT ones are not served). */
const SERVED_RESPONSE_MODES = ['query', 'fragment', 'form_post'] as const;

/** Typed options Gatehouse reads only to say it does not honour them, or honours with a weaker value: a warning, or an error where ignoring one would open more. */
function unreadOptionProblems(oidc: OidcProviderConfig): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  const entropy = oidc.minimum_parameter_entropy;
  if (entropy === -1) {
    found.push(configWarning('identity_providers.oidc.minimum_parameter_entropy', 'is -1: a state or nonce of any length is accepted, which weakens the clients\' protection against forged and replayed responses'));
  } else if (entropy !== undefined && entropy > 0 && entropy < 8) {
    found.push(configWarning('identity_providers.oidc.minimum_parameter_entropy', `is ${entropy}, below the safe minimum of 8 characters for state and nonce`));
  }
  oidc.jwks.forEach((jwk, i) => {
    if (jwk.certificate_chain !== undefined) found.push(configWarning(`identity_providers.oidc.jwks[${i}].certificate_chain`, 'has no effect: Gatehouse publishes the key without its certificate chain (no x5c)'));
  });
  oidc.clients.forEach((client, i) => {
    const modes = client.response_modes;
    if (modes === undefined) return;
    const at = `identity_providers.oidc.clients[${i}].response_modes`;
    const missing = SERVED_RESPONSE_MODES.filter((mode) => !modes.includes(mode));
    if (missing.length > 0) {
      found.push(configError(at, `leaves out ${missing.join(', ')}, but Gatehouse cannot restrict a client's response modes yet and would answer in them anyway; remove the option, or list ${SERVED_RESPONSE_MODES.join(', ')}`));
    } else {
      found.push(configWarning(at, `has no effect: every client may use ${SERVED_RESPONSE_MODES.join(', ')}`));
    }
  });
  return found;
}

/** Authelia's lifespans for grants Gatehouse does not serve have no effect; per-grant lifespans would be longer than asked. */
function lifespanProblems(oidc: OidcProviderConfig): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  const at = 'identity_providers.oidc.lifespans';
  if (oidc.lifespans.device_code !== undefined) found.push(configWarning(`${at}.device_code`, 'has no effect: Gatehouse does not serve the device code grant'));
  if (oidc.lifespans.jwt_secured_authorization !== undefined) {
    found.push(configWarning(`${at}.jwt_secured_authorization`, 'has no effect: Gatehouse does not sign authorization responses (JARM)'));
  }
  for (const [name, lifespan] of Object.entries(oidc.lifespans.custom)) {
    if (lifespan.device_code !== undefined) found.push(configWarning(`${at}.custom.${name}.device_code`, 'has no effect: Gatehouse does not serve the device code grant'));
    if (lifespan.grants !== undefined) {
      found.push(configError(`${at}.custom.${name}.grants`, "sets lifespans per grant type, which Gatehouse does not read yet: its tokens would live as long as this lifespan's own values, perhaps longer than configured, so it is refused; set the shortest ones on the lifespan itself"));
    }
  }
  return found;
}

function clientProblems(oidc: OidcProviderConfig, client: OidcClientConfig, at: string): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  client.redirect_uris.forEach((uri, i) => {
    const problem = redirectUriProblem(uri);
    if (problem !== null) found.push(configError(`${at}.redirect_uris[${i}]`, `${shownValue(uri)} ${problem}`));
  });
  client.post_logout_redirect_uris.forEach((uri, i) => {
    const problem = redirectUriProblem(uri);
    if (problem !== null) found.push(configError(`${at}.post_logout_redirect_uris[${i}]`, `${shownValue(uri)} ${problem}`));
  });
  if (client.backchannel_logout_uri !== undefined) {
    const problem = redirectUriProblem(client.backchannel_logout_uri);
    if (problem !== null) found.push(configError(`${at}.backchannel_logout_uri`, `${shownValue(client.backchannel_logout_uri)} ${problem}`));
  }
  found.push(...secretProblems(client, at));
  found.push(...bearerProblems(client, at));
  if (!BUILT_IN_POLICIES.has(client.authorization_policy) && !Object.hasOwn(oidc.authorization_policies, client.authorization_policy)) {
    const known = ['one_factor', 'two_factor', ...Object.keys(oidc.authorization_policies)].join(', ');
    found.push(configError(`${at}.authorization_policy`, `${shownValue(client.authorization_policy)} is not a policy: expected one of ${known}`));
  }
  if (client.consent_mode === 'pre-configured' && client.pre_configured_consent_duration === undefined) {
    found.push(configError(`${at}.consent_mode`, 'is pre-configured but pre_configured_consent_duration is not set'));
  }
  if (client.pre_configured_consent_duration !== undefined && client.consent_mode !== 'pre-configured' && client.consent_mode !== 'auto') {
    found.push(configWarning(`${at}.pre_configured_consent_duration`, `is ignored: consent_mode is ${client.consent_mode}`));
  }
  if (client.pkce_challenge_method === 'plain') {
    found.push(configError(`${at}.pkce_challenge_method`, 'is plain, which Gatehouse does not accept (the code verifier would travel in the clear); use S256'));
  }
  if (client.grant_types.includes('urn:ietf:params:oauth:grant-type:device_code')) {
    found.push(configError(`${at}.grant_types`, 'has the device code grant, which Gatehouse does not serve yet; remove it'));
  }
  const raw = client as OidcClientConfig & { jwks?: unknown; jwks_uri?: unknown };
  if (client.token_endpoint_auth_method === 'private_key_jwt' && !(Array.isArray(raw.jwks) && raw.jwks.length > 0) && typeof raw.jwks_uri !== 'string') {
    found.push(configError(`${at}.token_endpoint_auth_method`, 'is private_key_jwt, but the client has no jwks (PEM public keys) or jwks_uri to check its signatures with'));
  }
  const symmetric = (alg: string) => alg.startsWith('HS');
  if ((symmetric(client.id_token_signed_response_alg) || symmetric(client.userinfo_signed_response_alg)) && clientSecretFormat(client.client_secret ?? '') !== 'plaintext') {
    found.push(configError(`${at}.id_token_signed_response_alg`, 'signs with the client secret (HS256/384/512), which needs client_secret as $plaintext$…; use RS256'));
  }
  if (client.lifespan !== undefined && !Object.hasOwn(oidc.lifespans.custom, client.lifespan)) {
    found.push(configError(`${at}.lifespan`, `${shownValue(client.lifespan)} is not a name under identity_providers.oidc.lifespans.custom`));
  }
  if (client.claims_policy !== undefined && !Object.hasOwn(oidc.claims_policies, client.claims_policy)) {
    found.push(configError(`${at}.claims_policy`, `${shownValue(client.claims_policy)} is not a name under identity_providers.oidc.claims_policies`));
  }
  found.push(...flowProblems(client, at));
  return found;
}

function secretProblems(client: OidcClientConfig, at: string): ConfigProblem[] {
  const method = client.token_endpoint_auth_method;
  if (client.public) {
    const found: ConfigProblem[] = [];
    if (client.client_secret !== undefined && client.client_secret !== '') found.push(configError(`${at}.client_secret`, 'is set, but a public client has no secret: remove it or make the client confidential (public: false)'));
    if (method !== undefined && method !== 'none') found.push(configError(`${at}.token_endpoint_auth_method`, `is ${method}, but a public client authenticates with none`));
    return found;
  }
  if (method === 'none') return [configError(`${at}.token_endpoint_auth_method`, 'is none, which only a public client may use (public: true)')];
  if (method === 'private_key_jwt') return [];
  if (client.client_secret === undefined || client.client_secret === '') {
    return [configError(`${at}.client_secret`, 'is missing: a confidential client needs one (generate a digest with `gatehouse hash-password --client-secret`)')];
  }
  const format = clientSecretFormat(client.client_secret);
  if (format === null) {
    return [configError(`${at}.client_secret`, 'is not a digest Gatehouse can check: expected $pbkdf2-sha512$…, $argon2id$… or $plaintext$…')];
  }
  if (format === 'plaintext') {
    if (method === 'client_secret_jwt') return [];
    return [configWarning(`${at}.client_secret`, 'is stored as plain text: anyone who reads this file can act as the client; store a digest (`gatehouse hash-password --client-secret`)')];
  }
  if (method === 'client_secret_jwt') {
    return [configError(`${at}.token_endpoint_auth_method`, 'is client_secret_jwt, which needs the secret itself: client_secret must be $plaintext$…')];
  }
  return [];
}

/**
 * A client whose tokens are forward-auth credentials (the authelia.bearer.authz scope, oidc/bearer.ts):
 * they pass only for targets in its audience, so an empty one is a mistake; entries must be URLs.
 */
function bearerProblems(client: OidcClientConfig, at: string): ConfigProblem[] {
  if (!client.scopes.includes('authelia.bearer.authz')) return [];
  const found: ConfigProblem[] = [];
  if (client.audience.length === 0) {
    found.push(configError(`${at}.audience`, "is empty, but the client has the authelia.bearer.authz scope: list the URLs its tokens are for (e.g. 'https://app.example.com'), or its tokens pass nowhere"));
  }
  client.audience.forEach((entry, i) => {
    const url = URL.parse(entry);
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
      found.push(configError(`${at}.audience[${i}]`, `${shownValue(entry)} is no http(s) URL without query or fragment: forward auth matches a target by scheme, host and path`));
    }
  });
  if (client.consent_mode === 'implicit' && client.grant_types.includes('authorization_code')) {
    found.push(configWarning(`${at}.consent_mode`, "is implicit, but the client has the authelia.bearer.authz scope: users are never told the app may open those sites as them (Authelia requires 'explicit')"));
  }
  return found;
}

function flowProblems(client: OidcClientConfig, at: string): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  const grants = new Set(client.grant_types);
  const responses = client.response_types;
  const needsCode = responses.some((r) => r.split(' ').includes('code'));
  const needsImplicit = responses.some((r) => r.split(' ').some((part) => part === 'token' || part === 'id_token'));
  if (needsCode && !grants.has('authorization_code')) {
    found.push(configError(`${at}.grant_types`, 'lacks authorization_code, which the response types with code need'));
  }
  if (needsImplicit && !grants.has('implicit')) {
    found.push(configError(`${at}.grant_types`, 'lacks implicit, which the response types with token or id_token need'));
  }
  if (grants.has('authorization_code') && !needsCode) {
    found.push(configError(`${at}.response_types`, 'has no response type with code, so the authorization_code grant can never start'));
  }
  if (grants.has('implicit') && !needsImplicit) {
    found.push(configError(`${at}.response_types`, 'has no response type with token or id_token, so the implicit grant can never start'));
  }
  if (grants.has('client_credentials') && client.public) {
    found.push(configError(`${at}.grant_types`, 'has client_credentials, which a public client cannot use: it has no credentials'));
  }
  if (grants.has('refresh_token') && !grants.has('authorization_code') && !grants.has('urn:ietf:params:oauth:grant-type:device_code')) {
    found.push(configError(`${at}.grant_types`, 'has refresh_token without authorization_code or device_code: no grant would ever issue a refresh token'));
  }
  if ((needsCode || needsImplicit) && client.redirect_uris.length === 0) {
    found.push(configError(`${at}.redirect_uris`, 'is empty: an authorization response needs somewhere to go'));
  }
  return found;
}

/** Why a redirect URI cannot be registered, or null: absolute, exact (no wildcard), no user info, no fragment. */
export function redirectUriProblem(uri: string): string | null {
  if (uri.includes('*')) return 'has a wildcard: redirect URIs are matched exactly';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URI';
  }
  if (url.username !== '' || url.password !== '') return 'has user info, which a redirect URI must not have';
  if (uri.includes('#')) return 'has a fragment, which a redirect URI must not have';
  if ((url.protocol === 'https:' || url.protocol === 'http:') && url.hostname === '') return 'has no host';
  return null;
}
