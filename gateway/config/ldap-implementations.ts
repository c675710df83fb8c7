/**
 * What `authentication_backend.ldap.implementation` fills in, as Authelia 4.39.20 does: its tables
 * `DefaultLDAPAuthenticationBackendConfigurationImplementation*` (internal/configuration/schema/
 * authentication.go), of which its validator (setDefaultImplementationLDAPAuthenticationBackendProfileAttributes)
 * copies the DNs, the filters, the group search mode and the six attributes below, each only where the
 * file leaves it empty, and the timeout when the file gives none.
 *
 * Authelia's Active Directory and FreeIPA tables also name profile attributes (given_name, family_name,
 * …), but 4.39.20 never copies them: a user's profile holds only what the file names, here too.
 */
import type { LdapImplementation } from '../users/ldap-settings.ts';

export interface LdapImplementationDefaults {
  additionalUsersDn: string;
  additionalGroupsDn: string;
  usersFilter: string;
  groupsFilter: string;
  groupSearchMode: 'filter';
  attributes: {
    distinguishedName: string;
    username: string;
    displayName: string;
    mail: string;
    memberOf: string;
    groupName: string;
  };
  /** Connecting and each operation, in ms. */
  timeoutMs: number;
}

/** Authelia's constants (schema/const.go). */
const UID = 'uid';
const CN = 'cn';
const MAIL = 'mail';
const DISPLAY_NAME = 'displayName';
const MEMBER_OF = 'memberOf';

export const LDAP_IMPLEMENTATION_DEFAULTS: Readonly<Record<LdapImplementation, LdapImplementationDefaults>> = {
  custom: {
    additionalUsersDn: '',
    additionalGroupsDn: '',
    usersFilter: '',
    groupsFilter: '',
    groupSearchMode: 'filter',
    attributes: { distinguishedName: '', username: UID, displayName: DISPLAY_NAME, mail: MAIL, memberOf: '', groupName: CN },
    timeoutMs: 20_000,
  },
  activedirectory: {
    additionalUsersDn: '',
    additionalGroupsDn: '',
    usersFilter:
      '(&(|({username_attribute}={input})({mail_attribute}={input}))(sAMAccountType=805306368)(!(userAccountControl:1.2.840.113556.1.4.803:=2))(!(pwdLastSet=0))(|(!(accountExpires=*))(accountExpires=0)(accountExpires>={date-time:microsoft-nt})))',
    groupsFilter: '(&(member={dn})(|(sAMAccountType=268435456)(sAMAccountType=536870912)))',
    groupSearchMode: 'filter',
    attributes: { distinguishedName: 'distinguishedName', username: 'sAMAccountName', displayName: DISPLAY_NAME, mail: MAIL, memberOf: MEMBER_OF, groupName: CN },
    timeoutMs: 5_000,
  },
  rfc2307bis: {
    additionalUsersDn: '',
    additionalGroupsDn: '',
    usersFilter: '(&(|({username_attribute}={input})({mail_attribute}={input}))(|(objectClass=inetOrgPerson)(objectClass=organizationalPerson)))',
    groupsFilter: '(&(|(member={dn})(uniqueMember={dn}))(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=groupOfMembers))(!(pwdReset=TRUE)))',
    groupSearchMode: 'filter',
    attributes: { distinguishedName: '', username: UID, displayName: DISPLAY_NAME, mail: MAIL, memberOf: MEMBER_OF, groupName: CN },
    timeoutMs: 5_000,
  },
  freeipa: {
    additionalUsersDn: '',
    additionalGroupsDn: '',
    usersFilter:
      '(&(|({username_attribute}={input})({mail_attribute}={input}))(objectClass=person)(!(nsAccountLock=TRUE))(krbPasswordExpiration>={date-time:generalized})(|(!(krbPrincipalExpiration=*))(krbPrincipalExpiration>={date-time:generalized})))',
    groupsFilter: '(&(member={dn})(objectClass=groupOfNames))',
    groupSearchMode: 'filter',
    attributes: { distinguishedName: '', username: UID, displayName: DISPLAY_NAME, mail: MAIL, memberOf: MEMBER_OF, groupName: CN },
    timeoutMs: 5_000,
  },
  lldap: {
    additionalUsersDn: 'OU=people',
    additionalGroupsDn: 'OU=groups',
    usersFilter: '(&(|({username_attribute}={input})({mail_attribute}={input}))(objectClass=person))',
    groupsFilter: '(&(member={dn})(objectClass=groupOfUniqueNames))',
    groupSearchMode: 'filter',
    attributes: { distinguishedName: '', username: UID, displayName: CN, mail: MAIL, memberOf: MEMBER_OF, groupName: CN },
    timeoutMs: 5_000,
  },
  glauth: {
    additionalUsersDn: '',
    additionalGroupsDn: '',
    usersFilter: '(&(|({username_attribute}={input})({mail_attribute}={input}))(objectClass=posixAccount)(!(accountStatus=inactive)))',
    groupsFilter: '(&(uniqueMember={dn})(objectClass=posixGroup))',
    groupSearchMode: 'filter',
    attributes: { distinguishedName: '', username: CN, displayName: 'description', mail: MAIL, memberOf: MEMBER_OF, groupName: CN },
    timeoutMs: 5_000,
  },
};

/** Authelia's pooling defaults (the custom table's), used when a value is below 1. */
export const LDAP_POOLING_DEFAULTS = { count: 5, retries: 2, timeoutMs: 10_000 } as const;
