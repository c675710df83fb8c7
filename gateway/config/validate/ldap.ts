/**
 * `authentication_backend.ldap`: Authelia 4.39's checks (validator/authentication.go,
 * validateLDAPAuthenticationBackend), in Gatehouse's words, and warnings where the settings are weaker
 * than they look (no TLS to a remote directory, an unauthenticated bind, an unchecked certificate).
 */
import { configError, configWarning, shownValue, type ConfigProblem } from '../../../lib/config-problems.ts';
import { isLoopbackHost } from '../../../lib/net/address.ts';
import { isReservedAttribute } from '../../expression/user-attributes.ts';
import { LDAP_IMPLEMENTATION_DEFAULTS } from '../ldap-implementations.ts';
import { parseLdapAddress, type LdapConfig } from '../ldap-schema.ts';
import type { GatewayConfig } from '../schema.ts';
import { tlsClientProblems } from './tls-client.ts';

const LDAP = 'authentication_backend.ldap';

/** Placeholders Authelia renamed: its own message (errFmtLDAPAuthBackendFilterReplacedPlaceholders). */
const REPLACED_PLACEHOLDERS: readonly { filter: 'users_filter' | 'groups_filter'; old: string; now: string }[] = [
  { filter: 'users_filter', old: '{0}', now: '{input}' },
  { filter: 'groups_filter', old: '{0}', now: '{input}' },
  { filter: 'groups_filter', old: '{1}', now: '{username}' },
];

function enclosed(filter: string): boolean {
  return filter.startsWith('(') && filter.endsWith(')');
}

function addressProblems(ldap: LdapConfig): ConfigProblem[] {
  if (ldap.address === undefined || ldap.address.trim() === '') {
    return [configError(`${LDAP}.address`, "is required: the directory's address, like ldaps://ldap.example.com or ldap://ldap.example.com with start_tls")];
  }
  const address = parseLdapAddress(ldap.address);
  if ('problem' in address) return [configError(`${LDAP}.address`, `'${shownValue(ldap.address)}' is invalid: ${address.problem}`)];
  const found: ConfigProblem[] = [];
  if (address.scheme === 'ldaps' && ldap.start_tls) {
    // Authelia ignores it too: the connection is TLS from the start
    found.push(configWarning(`${LDAP}.start_tls`, 'has no effect with an ldaps:// address: the connection is TLS from the start'));
  }
  if (address.scheme === 'ldap' && !ldap.start_tls && !isLoopbackHost(address.host)) {
    found.push(configWarning(
      `${LDAP}.address`,
      `is ldap:// to ${address.host} without start_tls: the service account's and every user's password cross the network in clear text; use ldaps:// or set start_tls: true`,
    ));
  }
  if (address.scheme === 'ldapi' && ldap.start_tls && !ldap.tls?.server_name) {
    found.push(configError(`${LDAP}.tls.server_name`, "is required with start_tls over an ldapi:// socket: the name the directory's certificate holds"));
  }
  return found;
}

/** A directory is asked again after refresh_interval: without one, what it says later (a user disabled, a group left) never arrives. */
function refreshProblems(refresh: GatewayConfig['authentication_backend']['refresh_interval']): ConfigProblem[] {
  if (refresh !== 'disable' && refresh !== 'never') return [];
  return [configWarning(
    'authentication_backend.refresh_interval',
    `is '${refresh}': a user's details and groups are read from the directory once and kept until a restart or SIGHUP; a user disabled or removed from a group in the directory keeps their access until then (default 5m)`,
  )];
}

function bindProblems(ldap: LdapConfig, passwordResetDisabled: boolean): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  if (ldap.permit_unauthenticated_bind) {
    found.push(configWarning(
      `${LDAP}.permit_unauthenticated_bind`,
      'is true: Gatehouse binds to the directory as the service account without a password; a directory that allows it may also answer to anyone who connects. Prefer a service account with a password',
    ));
    if (ldap.password) found.push(configError(`${LDAP}.permit_unauthenticated_bind`, "can't be enabled when a password is specified"));
    if (!passwordResetDisabled) {
      found.push(configError(`${LDAP}.permit_unauthenticated_bind`, "can't be enabled when password reset is enabled: set authentication_backend.password_reset.disable: true"));
    }
    return found;
  }
  if (!ldap.user) found.push(configError(`${LDAP}.user`, "is required: the service account's DN (or set permit_unauthenticated_bind)"));
  if (!ldap.password) found.push(configError(`${LDAP}.password`, "is required: the service account's password (or set permit_unauthenticated_bind)"));
  return found;
}

function filterProblems(ldap: LdapConfig): ConfigProblem[] {
  const defaults = LDAP_IMPLEMENTATION_DEFAULTS[ldap.implementation];
  const users = ldap.users_filter || defaults.usersFilter;
  const groups = ldap.groups_filter || defaults.groupsFilter;
  const found: ConfigProblem[] = [];
  for (const { filter, old, now } of REPLACED_PLACEHOLDERS) {
    if ((filter === 'users_filter' ? users : groups).includes(old)) {
      found.push(configError(`${LDAP}.${filter}`, `has an invalid placeholder: '${old}' has been removed, please use '${now}' instead`));
    }
  }
  if (users === '') {
    found.push(configError(`${LDAP}.users_filter`, `is required with implementation '${ldap.implementation}', like (&({username_attribute}={input})(objectClass=person))`));
  } else {
    if (!enclosed(users)) found.push(configError(`${LDAP}.users_filter`, `must contain enclosing parenthesis: '${shownValue(users)}' should probably be '(${shownValue(users)})'`));
    for (const placeholder of ['{username_attribute}', '{input}']) {
      if (!users.includes(placeholder)) found.push(configError(`${LDAP}.users_filter`, `must contain the placeholder '${placeholder}' but it's absent`));
    }
  }
  if (groups === '') {
    found.push(configError(`${LDAP}.groups_filter`, `is required with implementation '${ldap.implementation}', like (&(member={dn})(objectClass=groupOfNames))`));
  } else if (!enclosed(groups)) {
    found.push(configError(`${LDAP}.groups_filter`, `must contain enclosing parenthesis: '${shownValue(groups)}' should probably be '(${shownValue(groups)})'`));
  }
  const memberOfDn = groups.includes('{memberof:dn}');
  const memberOfRdn = groups.includes('{memberof:rdn}');
  const mode = ldap.group_search_mode ?? defaults.groupSearchMode;
  if (mode === 'memberof' && !memberOfDn && !memberOfRdn) {
    found.push(configError(`${LDAP}.groups_filter`, "must contain one of the '{memberof:rdn}' or '{memberof:dn}' placeholders when using a group_search_mode of 'memberof' but they're absent"));
  }
  if (memberOfDn && !(ldap.attributes.distinguished_name || defaults.attributes.distinguishedName)) {
    found.push(configError(`${LDAP}.attributes.distinguished_name`, "must be provided when using the '{memberof:dn}' placeholder but it's absent"));
  }
  if ((memberOfDn || memberOfRdn) && !(ldap.attributes.member_of || defaults.attributes.memberOf)) {
    found.push(configError(`${LDAP}.attributes.member_of`, "must be provided when using the '{memberof:rdn}' or '{memberof:dn}' placeholder but it's absent"));
  }
  return found;
}

function extraAttributeProblems(ldap: LdapConfig): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  for (const [name, declared] of Object.entries(ldap.attributes.extra)) {
    const where = `${LDAP}.attributes.extra.${name}`;
    if (declared.value_type === undefined) found.push(configError(`${where}.value_type`, "is required: one of 'string', 'integer', or 'boolean'"));
    const shownAs = declared.name || name;
    if (isReservedAttribute(shownAs)) {
      found.push(configError(declared.name ? `${where}.name` : where, `attribute name '${shownAs}' is reserved: it is a user attribute Gatehouse and Authelia already have; give the extra attribute another name`));
    }
  }
  return found;
}

/**
 * Sessions end when the credential stamp does (users/ldap.ts builds it from the entry's identity and a
 * "password last changed" time). LLDAP shows no change time (its modifyTimestamp is the creation date);
 * GLAuth shows neither, so an account removed and made again under the same name keeps the old one's too.
 */
const NO_PASSWORD_CHANGE_TIME: Partial<Record<LdapConfig['implementation'], string>> = {
  lldap: 'LLDAP shows no time a password was changed',
  glauth: 'GLAuth shows no time a password was changed, nor an identity for an entry (an account removed and made again under the same name keeps the sessions too)',
};

function credentialChangeProblems(ldap: LdapConfig): ConfigProblem[] {
  const why = NO_PASSWORD_CHANGE_TIME[ldap.implementation];
  if (why === undefined) return [];
  return [configWarning(
    `${LDAP}.implementation`,
    `is '${ldap.implementation}': ${why}, so a password changed or reset in the directory itself does not end the Gatehouse sessions made with the old one (they last until they expire or sign out); change passwords through Gatehouse, which ends them, or keep session lifetimes short`,
  )];
}

/** Every problem of the `ldap` block (none when it is absent); `file` and `ldap` both set is authentication-backend.ts's to say. */
export function ldapProblems(backend: GatewayConfig['authentication_backend']): ConfigProblem[] {
  const ldap = backend.ldap;
  if (!ldap) return [];
  return [
    ...addressProblems(ldap),
    ...tlsClientProblems(`${LDAP}.tls`, ldap.tls, 'the LDAP server'),
    // a custom_url turns the reset back on, in Authelia's reading
    ...bindProblems(ldap, backend.password_reset.disable && backend.password_reset.custom_url === undefined),
    ...filterProblems(ldap),
    ...extraAttributeProblems(ldap),
    ...refreshProblems(backend.refresh_interval),
    ...credentialChangeProblems(ldap),
    // never followed: a user or group behind a referral is simply not found (nothing more is let in)
    ...(ldap.permit_referrals ? [configWarning(`${LDAP}.permit_referrals`, 'has no effect: Gatehouse does not follow referrals, so users and groups behind one are not found; point base_dn at the server that holds them')] : []),
  ];
}
