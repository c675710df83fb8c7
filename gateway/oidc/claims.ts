/**
 * Which claims each scope releases, and their values for a user. `sub` is the opaque subject stored per
 * username (storage/oidc.ts), so what an app knows the user as never changes with a display name.
 * `amr`, `acr`, `auth_time` and `sid` go in every ID token (oidc-provider leaves amr out otherwise).
 */
import type { OidcClientConfig, OidcProviderConfig } from '../config/oidc-schema.ts';
import type { UserAttributeResolver } from '../expression/user-attributes.ts';
import type { UserDetails } from '../users/provider.ts';

export const STANDARD_SCOPE_CLAIMS = {
  // in every ID token: oidc-provider releases only a scope's claims there, so these ride on openid
  openid: ['sub', 'acr', 'amr', 'auth_time'],
  profile: ['name', 'preferred_username', 'given_name', 'middle_name', 'family_name', 'nickname', 'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale'],
  email: ['email', 'email_verified', 'alt_emails'],
  phone: ['phone_number', 'phone_number_verified'],
  address: ['address'],
  groups: ['groups'],
} as const;

/** The profile attributes of Authelia's users files that are OpenID Connect claims of the same name. */
const PROFILE_ATTRIBUTES = ['given_name', 'middle_name', 'family_name', 'nickname', 'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale'] as const;

const scopeClaimsOf = new WeakMap<OidcProviderConfig, Record<string, string[] | null>>();

/** Which claims each scope releases (worked out once per configuration: every ID token and interaction asks). */
export function scopeClaims(config: OidcProviderConfig): Record<string, string[] | null> {
  let claims = scopeClaimsOf.get(config);
  if (!claims) {
    claims = {
      sid: null,
      ...Object.fromEntries(Object.entries(STANDARD_SCOPE_CLAIMS).map(([scope, names]) => [scope, [...names]])),
      ...Object.fromEntries(Object.entries(config.scopes).map(([scope, custom]) => [scope, custom.claims])),
    };
    scopeClaimsOf.set(config, claims);
  }
  return claims;
}

/** Every claim Gatehouse knows for `user`; oidc-provider releases those the grant's scopes allow. */
export function claimsOf(sub: string, user: UserDetails): Record<string, unknown> {
  const [email, ...alternates] = user.emails;
  return {
    sub,
    name: user.displayName,
    preferred_username: user.username,
    ...(email === undefined ? {} : { email, email_verified: true, alt_emails: alternates }),
    groups: user.groups,
    ...Object.fromEntries(PROFILE_ATTRIBUTES.flatMap((name) => (user.attributes?.[name] === undefined ? [] : [[name, user.attributes[name]]]))),
    // a number from the users file is the operator's word, not a verified one
    ...(user.attributes?.phone_number === undefined ? {} : { phone_number: user.attributes.phone_number, phone_number_verified: false }),
    ...(user.attributes?.address === undefined ? {} : { address: { ...user.attributes.address } }),
  };
}

/** Which attribute a custom scope's claim reads under a claims policy (Authelia's NewCustomClaimsStrategy). */
function attributeOfClaim(policy: OidcProviderConfig['claims_policies'][string], claim: string): string {
  for (const [key, custom] of Object.entries(policy.custom_claims ?? {})) {
    if ((custom.name ?? key) === claim) return custom.attribute ?? key;
  }
  return claim;
}

/**
 * The claims of the client's custom scopes (`scopes.<name>.claims`), each the value of the attribute
 * its claims policy maps it to (`custom_claims.<claim>.attribute`, else the attribute of its own name):
 * a `definitions.user_attributes` one, a built-in one, or the users file's `extra:`. As in Authelia, a
 * client without a claims policy gets none, and an empty value is left out. oidc-provider releases
 * those of the scopes granted.
 */
export function customClaimsOf(config: OidcProviderConfig, client: OidcClientConfig | undefined, user: UserDetails, attributes: UserAttributeResolver): Record<string, unknown> {
  const policy = client?.claims_policy === undefined ? undefined : config.claims_policies[client.claims_policy];
  if (client === undefined || policy === undefined) return {};
  const claims: Record<string, unknown> = {};
  for (const scope of client.scopes) {
    for (const claim of Object.hasOwn(config.scopes, scope) ? config.scopes[scope]!.claims : []) {
      const value = attributes.resolve(attributeOfClaim(policy, claim), user);
      if (value !== undefined && value !== null && value !== '') claims[claim] = value;
    }
  }
  return claims;
}
