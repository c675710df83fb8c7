/**
 * `authentication_backend.ldap` with Authelia 4.39's keys, and `resolveLdapSettings`, which turns it into
 * the LdapSettings the provider reads (users/ldap-settings.ts): the implementation's defaults
 * (ldap-implementations.ts) under the file's values, the address as ldapts takes it, the TLS options.
 * The cross-field checks, with Authelia's rules, are validate/ldap.ts; resolve only what passed them.
 */
import { z } from 'zod';
import { optionalMs } from '../../lib/config-fields.ts';
import { tlsClientOptions, type TlsClientSettings } from '../../lib/net/tls-client.ts';
import type { TrustedCertificates } from '../../lib/net/trusted-cas.ts';
import { EXTRA_VALUE_TYPES } from '../users/extra-attributes.ts';
import { LDAP_IMPLEMENTATIONS, LDAP_PROFILE_ATTRIBUTES, type LdapAttributes, type LdapSettings } from '../users/ldap-settings.ts';
import { LDAP_IMPLEMENTATION_DEFAULTS, LDAP_POOLING_DEFAULTS } from './ldap-implementations.ts';
import { tlsClient } from './tls-client-schema.ts';

/** A count where Authelia takes anything below 1 as its default. */
function countOr(defaultValue: number) {
  return z.number().int().default(defaultValue).transform((n) => (n < 1 ? defaultValue : n));
}

const attribute = z.string().optional();

const attributes = z.strictObject({
  distinguished_name: attribute,
  username: attribute,
  display_name: attribute,
  mail: attribute,
  member_of: attribute,
  group_name: attribute,
  ...(Object.fromEntries(LDAP_PROFILE_ATTRIBUTES.map((name) => [name, attribute])) as Record<(typeof LDAP_PROFILE_ATTRIBUTES)[number], typeof attribute>),
  /** Directory attribute → how it is named (`name`, default the directory's) and typed among the user's extra attributes. */
  extra: z
    .record(
      z.string().min(1),
      z.strictObject({
        name: z.string().optional(),
        multi_valued: z.boolean().default(false),
        /** Required (validate/ldap.ts says so, as Authelia does). */
        value_type: z.enum(EXTRA_VALUE_TYPES).optional(),
      }),
    )
    .default({}),
});

export const ldapBackend = z.strictObject({
  /** Which directory: decides the defaults of the filters, attributes and timeout (ldap-implementations.ts). */
  implementation: z.enum(LDAP_IMPLEMENTATIONS).default('custom'),
  /** `ldaps://host[:636]`, `ldap://host[:389]`, `ldapi:///path/to/socket`; without a scheme ldaps:// (ldapi:// for a path). */
  address: z.string().optional(),
  /** Connecting, and each operation: 20s with `custom`, 5s with the other implementations (Authelia's). */
  timeout: optionalMs(),
  /** Upgrade an ldap:// connection with StartTLS before binding. */
  start_tls: z.boolean().default(false),
  /** For ldaps:// and StartTLS; server_name defaults to the address's host. */
  tls: tlsClient.optional(),
  pooling: z
    .strictObject({
      enable: z.boolean().default(false),
      count: countOr(LDAP_POOLING_DEFAULTS.count),
      retries: countOr(LDAP_POOLING_DEFAULTS.retries),
      /** Waiting for a pooled connection. */
      timeout: optionalMs(),
    })
    .prefault({}),
  base_dn: z.string().default(''),
  additional_users_dn: z.string().optional(),
  users_filter: z.string().optional(),
  additional_groups_dn: z.string().optional(),
  groups_filter: z.string().optional(),
  group_search_mode: z.enum(['filter', 'memberof']).optional(),
  attributes: attributes.prefault({}),
  permit_referrals: z.boolean().default(false),
  /** Bind without a password (never for a user's login): needs password_reset.disable. */
  permit_unauthenticated_bind: z.boolean().default(false),
  /** The service account's DN. */
  user: z.string().optional(),
  password: z.string().optional(),
});

export type LdapConfig = z.output<typeof ldapBackend>;

export interface LdapAddress {
  scheme: 'ldap' | 'ldaps' | 'ldapi';
  /** The host as in a URL (IPv6 in brackets); '' for ldapi. */
  host: string;
  port: number;
  /** ldapi's socket path, decoded. */
  socketPath: string;
  /** As ldapts takes it: `ldap://host:389`, `ldapi://%2Frun%2Fslapd%2Fldapi`. */
  url: string;
}

/** go-ldap's socket when an ldapi address names none (as Authelia dials it). */
const DEFAULT_LDAPI_SOCKET = '/var/run/slapd/ldapi';
const DEFAULT_PORTS = { ldap: 389, ldaps: 636 } as const;
const HAS_SCHEME = /^[-+.a-zA-Z\d]*(:\/\/|:$)/;

/**
 * The address as Authelia reads it (schema.NewAddressDefault with ldaps and ldapi, then ValidateLDAP):
 * without a scheme ldaps://, or ldapi:// for a path; ports 389 and 636 by default; no query, fragment or
 * user info. A problem is worded to follow `address: `; it never repeats the value (the caller may).
 */
export function parseLdapAddress(text: string): LdapAddress | { problem: string } {
  const written = text.trim();
  if (written === '') return { problem: "is required: the directory's address, like ldaps://ldap.example.com" };
  const withScheme = HAS_SCHEME.test(written) ? written : `${written.startsWith('/') ? 'ldapi' : 'ldaps'}://${written}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return { problem: 'is not an address: expected [<scheme>://]<hostname>[:<port>], or ldapi:///path/to/socket' };
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== 'ldap' && scheme !== 'ldaps' && scheme !== 'ldapi') {
    return { problem: `scheme must be one of 'ldap', 'ldaps', or 'ldapi' but is configured as '${scheme}'` };
  }
  if (url.search !== '') return { problem: 'has a query, which an LDAP address may not have' };
  if (url.hash !== '') return { problem: 'has a fragment, which an LDAP address may not have' };
  if (url.username !== '' || url.password !== '') return { problem: 'has user info, which an LDAP address may not have: set user and password instead' };
  if (scheme === 'ldapi') {
    if (url.host !== '') {
      return { problem: 'names a host, which an ldapi:// (socket) address may not have: this may occur if you omit the leading forward slash from the socket path (ldapi:///run/slapd/ldapi)' };
    }
    let socketPath: string;
    try {
      socketPath = decodeURIComponent(url.pathname);
    } catch {
      return { problem: 'has a socket path that is not valid percent-encoding' };
    }
    if (socketPath === '' || socketPath === '/') socketPath = DEFAULT_LDAPI_SOCKET;
    return { scheme, host: '', port: 0, socketPath, url: `ldapi://${encodeURIComponent(socketPath)}` };
  }
  if (url.hostname === '') return { problem: 'names no host' };
  const port = url.port === '' ? DEFAULT_PORTS[scheme] : Number(url.port);
  return { scheme, host: url.hostname, port, socketPath: '', url: `${scheme}://${url.hostname}:${port}` };
}

/** `additional + ',' + base`, as Authelia joins them (either alone when the other is empty). */
function joinDn(additional: string, base: string): string {
  if (additional === '') return base;
  return base === '' ? additional : `${additional},${base}`;
}

/** A value the file set, else the default: Authelia takes '' as unset. */
function or(value: string | undefined, fallback: string): string {
  return value === undefined || value === '' ? fallback : value;
}

/**
 * The settings the provider reads. Call it only with a configuration validate/ldap.ts accepted (an
 * address that does not parse throws).
 */
export function resolveLdapSettings(ldap: LdapConfig, trusted: TrustedCertificates): LdapSettings {
  const defaults = LDAP_IMPLEMENTATION_DEFAULTS[ldap.implementation];
  const address = parseLdapAddress(ldap.address ?? '');
  if ('problem' in address) throw new TypeError(`authentication_backend.ldap.address ${address.problem}`);
  const a = ldap.attributes;
  const profile: LdapAttributes['profile'] = {};
  for (const name of LDAP_PROFILE_ATTRIBUTES) {
    const value = a[name];
    if (value !== undefined && value !== '') profile[name] = value;
  }
  const extra: LdapAttributes['extra'] = {};
  for (const [directoryName, declared] of Object.entries(ldap.attributes.extra)) {
    extra[directoryName] = { name: or(declared.name, directoryName), multiValued: declared.multi_valued, valueType: declared.value_type ?? 'string' };
  }
  const distinguishedName = or(a.distinguished_name, defaults.attributes.distinguishedName);
  const memberOf = or(a.member_of, defaults.attributes.memberOf);
  const settings: LdapSettings = {
    implementation: ldap.implementation,
    url: address.url,
    timeoutMs: ldap.timeout || defaults.timeoutMs,
    startTls: ldap.start_tls && address.scheme !== 'ldaps',
    baseDn: ldap.base_dn,
    usersBaseDn: joinDn(or(ldap.additional_users_dn, defaults.additionalUsersDn), ldap.base_dn),
    usersFilter: or(ldap.users_filter, defaults.usersFilter),
    groupsBaseDn: joinDn(or(ldap.additional_groups_dn, defaults.additionalGroupsDn), ldap.base_dn),
    groupsFilter: or(ldap.groups_filter, defaults.groupsFilter),
    groupSearchMode: ldap.group_search_mode ?? defaults.groupSearchMode,
    attributes: {
      ...(distinguishedName === '' ? {} : { distinguishedName }),
      username: or(a.username, defaults.attributes.username),
      displayName: or(a.display_name, defaults.attributes.displayName),
      mail: or(a.mail, defaults.attributes.mail),
      ...(memberOf === '' ? {} : { memberOf }),
      groupName: or(a.group_name, defaults.attributes.groupName),
      profile,
      extra,
    },
    permitReferrals: ldap.permit_referrals,
    permitUnauthenticatedBind: ldap.permit_unauthenticated_bind,
    // Authelia 4.39.16 removed the option: a failed feature detection (Root DSE) is logged and tolerated
    permitFeatureDetectionFailure: true,
    pooling: {
      enable: ldap.pooling.enable,
      count: ldap.pooling.count,
      retries: ldap.pooling.retries,
      timeoutMs: ldap.pooling.timeout || LDAP_POOLING_DEFAULTS.timeoutMs,
    },
  };
  if (ldap.user !== undefined && ldap.user !== '') settings.user = ldap.user;
  if (ldap.password !== undefined && ldap.password !== '') settings.password = ldap.password;
  if (address.scheme === 'ldaps' || settings.startTls) {
    const tls: TlsClientSettings = ldap.tls ?? { skip_verify: false, minimum_version: 'TLS1.2' };
    // Authelia's server_name defaults to the address's host (brackets off an IPv6 address)
    settings.tls = tlsClientOptions(tls, trusted, address.host.replace(/^\[|\]$/g, '') || undefined);
  }
  return settings;
}
