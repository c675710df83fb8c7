/**
 * Which claims each scope releases, and their values for a user. `sub` is the opaque subject stored per
 * username (storage/oidc.ts), so what an app knows the user as never changes with a display name.
 * `amr`, `acr`, `auth_time` and `sid` go in every ID token (oidc-provider leaves amr out otherwise).
 */
import type { OidcProviderConfig } from '../config/oidc-schema.ts';
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
