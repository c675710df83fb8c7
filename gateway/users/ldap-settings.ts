/**
 * The LDAP user backend's settings once the configuration is read: every default of the chosen
 * `implementation` filled in, placeholders still in the filters (the provider fills `{input}` per
 * request, escaped). `authentication_backend.ldap` is read into this by `resolveLdapSettings`
 * (config/ldap-schema.ts); the provider (users/ldap.ts) reads nothing else.
 */
import type { TlsClientOptions } from '../../lib/net/tls-client.ts';
import { USER_ADDRESS_FIELDS, USER_TEXT_ATTRIBUTES } from './provider.ts';

export const LDAP_IMPLEMENTATIONS = ['custom', 'activedirectory', 'rfc2307bis', 'freeipa', 'lldap', 'glauth'] as const;
export type LdapImplementation = (typeof LDAP_IMPLEMENTATIONS)[number];

/** The profile attributes a directory may hold, named as UserAttributes (users/provider.ts) names them. */
export const LDAP_PROFILE_ATTRIBUTES = [...USER_TEXT_ATTRIBUTES, ...USER_ADDRESS_FIELDS] as const;
export type LdapProfileAttribute = (typeof LDAP_PROFILE_ATTRIBUTES)[number];

export interface LdapAttributes {
  /** Read from each entry when set (Active Directory's `distinguishedName`); else the entry's DN. */
  distinguishedName?: string;
  username: string;
  displayName: string;
  mail: string;
  /** The attribute listing a user's groups, for `group_search_mode: memberof` and the `{memberof:…}` placeholders. */
  memberOf?: string;
  groupName: string;
  /** Directory attribute for each profile attribute the implementation or the file names. */
  profile: Partial<Record<LdapProfileAttribute, string>>;
  /** `attributes.extra`: directory attribute → how Gatehouse names and types it. */
  extra: Record<string, { name: string; multiValued: boolean; valueType: 'string' | 'integer' | 'boolean' }>;
}

export interface LdapSettings {
  implementation: LdapImplementation;
  /** `ldap://host:389`, `ldaps://host:636` or `ldapi://%2Frun%2Fslapd%2Fldapi` as ldapts takes it. */
  url: string;
  /** Connecting, and each operation, in ms. */
  timeoutMs: number;
  startTls: boolean;
  /** For ldaps:// and StartTLS: CAs (certificates_directory), server name, versions, client certificate. */
  tls?: TlsClientOptions;
  baseDn: string;
  /** `additional_users_dn` + `base_dn`. */
  usersBaseDn: string;
  /** With `{input}`, `{username_attribute}`, `{mail_attribute}`, `{display_name_attribute}`, `{date-time:…}` placeholders. */
  usersFilter: string;
  /** `additional_groups_dn` + `base_dn`. */
  groupsBaseDn: string;
  /** With `{input}`, `{username}`, `{dn}`, `{mail}`, `{memberof:dn}`, `{memberof:rdn}`, `{date-time:…}` placeholders. */
  groupsFilter: string;
  groupSearchMode: 'filter' | 'memberof';
  attributes: LdapAttributes;
  permitReferrals: boolean;
  permitUnauthenticatedBind: boolean;
  permitFeatureDetectionFailure: boolean;
  /** The service account; absent only with permit_unauthenticated_bind. */
  user?: string;
  password?: string;
  pooling: { enable: boolean; count: number; retries: number; timeoutMs: number };
}
