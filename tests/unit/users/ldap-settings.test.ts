/**
 * resolveLdapSettings: authentication_backend.ldap as the LDAP provider reads it. Each implementation's
 * defaults are written out here as Authelia 4.39.20 has them (internal/configuration/schema/authentication.go,
 * DefaultLDAPAuthenticationBackendConfigurationImplementation*, and what validator/authentication.go copies
 * from them), so a change to the table shows here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayConfigSchema } from '../../../gateway/config/schema.ts';
import { parseLdapAddress, resolveLdapSettings } from '../../../gateway/config/ldap-schema.ts';
import type { LdapSettings } from '../../../gateway/users/ldap-settings.ts';
import { DEFAULT_TRUST, type TrustedCertificates } from '../../../lib/net/trusted-cas.ts';

const SERVICE = { base_dn: 'dc=example,dc=com', user: 'cn=gatehouse,dc=example,dc=com', password: 'service-password' };

function resolve(ldap: Record<string, unknown>, trusted: TrustedCertificates = DEFAULT_TRUST): LdapSettings {
  const config = gatewayConfigSchema.parse({ authentication_backend: { ldap: { address: 'ldaps://ldap.example.com', ...SERVICE, ...ldap } } });
  return resolveLdapSettings(config.authentication_backend.ldap!, trusted);
}

/** The part of the settings an implementation decides. */
function table(settings: LdapSettings) {
  const { usersBaseDn, groupsBaseDn, usersFilter, groupsFilter, groupSearchMode, attributes, timeoutMs } = settings;
  return { usersBaseDn, groupsBaseDn, usersFilter, groupsFilter, groupSearchMode, attributes, timeoutMs };
}

const BASE = 'dc=example,dc=com';
const NO_PROFILE = { profile: {}, extra: {} };

describe("each implementation's defaults are Authelia 4.39.20's", () => {
  it('custom: uid, displayName, mail, cn; no filters; 20s', () => {
    assert.deepEqual(table(resolve({ implementation: 'custom' })), {
      usersBaseDn: BASE,
      groupsBaseDn: BASE,
      usersFilter: '',
      groupsFilter: '',
      groupSearchMode: 'filter',
      attributes: { username: 'uid', displayName: 'displayName', mail: 'mail', groupName: 'cn', ...NO_PROFILE },
      timeoutMs: 20_000,
    });
  });

  it('no implementation is custom', () => {
    assert.equal(resolve({}).implementation, 'custom');
    assert.deepEqual(table(resolve({})), table(resolve({ implementation: 'custom' })));
  });

  it('activedirectory', () => {
    assert.deepEqual(table(resolve({ implementation: 'activedirectory' })), {
      usersBaseDn: BASE,
      groupsBaseDn: BASE,
      usersFilter:
        '(&(|({username_attribute}={input})({mail_attribute}={input}))(sAMAccountType=805306368)(!(userAccountControl:1.2.840.113556.1.4.803:=2))(!(pwdLastSet=0))(|(!(accountExpires=*))(accountExpires=0)(accountExpires>={date-time:microsoft-nt})))',
      groupsFilter: '(&(member={dn})(|(sAMAccountType=268435456)(sAMAccountType=536870912)))',
      groupSearchMode: 'filter',
      attributes: { distinguishedName: 'distinguishedName', username: 'sAMAccountName', displayName: 'displayName', mail: 'mail', memberOf: 'memberOf', groupName: 'cn', ...NO_PROFILE },
      timeoutMs: 5_000,
    });
  });

  it('rfc2307bis', () => {
    assert.deepEqual(table(resolve({ implementation: 'rfc2307bis' })), {
      usersBaseDn: BASE,
      groupsBaseDn: BASE,
      usersFilter: '(&(|({username_attribute}={input})({mail_attribute}={input}))(|(objectClass=inetOrgPerson)(objectClass=organizationalPerson)))',
      groupsFilter: '(&(|(member={dn})(uniqueMember={dn}))(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=groupOfMembers))(!(pwdReset=TRUE)))',
      groupSearchMode: 'filter',
      attributes: { username: 'uid', displayName: 'displayName', mail: 'mail', memberOf: 'memberOf', groupName: 'cn', ...NO_PROFILE },
      timeoutMs: 5_000,
    });
  });

  it('freeipa', () => {
    assert.deepEqual(table(resolve({ implementation: 'freeipa' })), {
      usersBaseDn: BASE,
      groupsBaseDn: BASE,
      usersFilter:
        '(&(|({username_attribute}={input})({mail_attribute}={input}))(objectClass=person)(!(nsAccountLock=TRUE))(krbPasswordExpiration>={date-time:generalized})(|(!(krbPrincipalExpiration=*))(krbPrincipalExpiration>={date-time:generalized})))',
      groupsFilter: '(&(member={dn})(objectClass=groupOfNames))',
      groupSearchMode: 'filter',
      attributes: { username: 'uid', displayName: 'displayName', mail: 'mail', memberOf: 'memberOf', groupName: 'cn', ...NO_PROFILE },
      timeoutMs: 5_000,
    });
  });

  it('lldap: OU=people and OU=groups under base_dn, cn as the display name', () => {
    assert.deepEqual(table(resolve({ implementation: 'lldap' })), {
      usersBaseDn: `OU=people,${BASE}`,
      groupsBaseDn: `OU=groups,${BASE}`,
      usersFilter: '(&(|({username_attribute}={input})({mail_attribute}={input}))(objectClass=person))',
      groupsFilter: '(&(member={dn})(objectClass=groupOfUniqueNames))',
      groupSearchMode: 'filter',
      attributes: { username: 'uid', displayName: 'cn', mail: 'mail', memberOf: 'memberOf', groupName: 'cn', ...NO_PROFILE },
      timeoutMs: 5_000,
    });
  });

  it('glauth: cn as the username, description as the display name', () => {
    assert.deepEqual(table(resolve({ implementation: 'glauth' })), {
      usersBaseDn: BASE,
      groupsBaseDn: BASE,
      usersFilter: '(&(|({username_attribute}={input})({mail_attribute}={input}))(objectClass=posixAccount)(!(accountStatus=inactive)))',
      groupsFilter: '(&(uniqueMember={dn})(objectClass=posixGroup))',
      groupSearchMode: 'filter',
      attributes: { username: 'cn', displayName: 'description', mail: 'mail', memberOf: 'memberOf', groupName: 'cn', ...NO_PROFILE },
      timeoutMs: 5_000,
    });
  });

  it("Active Directory's profile attributes (givenName, sn, …) in Authelia's table are not applied, as its validator does not copy them", () => {
    assert.deepEqual(resolve({ implementation: 'activedirectory' }).attributes.profile, {});
  });
});

describe("the file's values win over the implementation's", () => {
  it('filters, DNs, mode, attributes and timeout', () => {
    const settings = resolve({
      implementation: 'lldap',
      additional_users_dn: 'ou=staff',
      additional_groups_dn: 'ou=teams',
      users_filter: '(&({username_attribute}={input})(objectClass=inetOrgPerson))',
      groups_filter: '(&(member={dn})(objectClass=groupOfNames)(|{memberof:rdn}))',
      group_search_mode: 'memberof',
      timeout: '7s',
      attributes: { username: 'mail', display_name: 'displayName', mail: 'email', member_of: 'isMemberOf', group_name: 'ou', distinguished_name: 'entryDN', given_name: 'givenName', family_name: 'sn', phone_number: 'mobile' },
    });
    assert.deepEqual(table(settings), {
      usersBaseDn: `ou=staff,${BASE}`,
      groupsBaseDn: `ou=teams,${BASE}`,
      usersFilter: '(&({username_attribute}={input})(objectClass=inetOrgPerson))',
      groupsFilter: '(&(member={dn})(objectClass=groupOfNames)(|{memberof:rdn}))',
      groupSearchMode: 'memberof',
      attributes: {
        distinguishedName: 'entryDN', username: 'mail', displayName: 'displayName', mail: 'email', memberOf: 'isMemberOf', groupName: 'ou',
        profile: { given_name: 'givenName', family_name: 'sn', phone_number: 'mobile' },
        extra: {},
      },
      timeoutMs: 7_000,
    });
  });

  it("an empty string is unset, as Authelia reads it: the implementation's value stays", () => {
    const settings = resolve({ implementation: 'lldap', additional_users_dn: '', users_filter: '', attributes: { display_name: '' } });
    assert.equal(settings.usersBaseDn, `OU=people,${BASE}`);
    assert.equal(settings.usersFilter, '(&(|({username_attribute}={input})({mail_attribute}={input}))(objectClass=person))');
    assert.equal(settings.attributes.displayName, 'cn');
  });

  it('timeout 0 is the default (Authelia: 0 means unset); a number is seconds', () => {
    assert.equal(resolve({ implementation: 'lldap', timeout: 0 }).timeoutMs, 5_000);
    assert.equal(resolve({ timeout: 3 }).timeoutMs, 3_000);
  });

  it('extra attributes: the directory name unless renamed, typed', () => {
    const { extra } = resolve({ attributes: { extra: { employeeNumber: { name: 'employee_number', value_type: 'integer' }, mobile: { multi_valued: true, value_type: 'string' } } } }).attributes;
    assert.deepEqual(extra, {
      employeeNumber: { name: 'employee_number', multiValued: false, valueType: 'integer' },
      mobile: { name: 'mobile', multiValued: true, valueType: 'string' },
    });
  });

  it('an empty base_dn leaves only the additional DN; an empty additional DN only the base', () => {
    const settings = resolve({ implementation: 'lldap', base_dn: '' });
    assert.equal(settings.usersBaseDn, 'OU=people');
    assert.equal(settings.baseDn, '');
    assert.equal(resolve({ base_dn: 'dc=x' }).usersBaseDn, 'dc=x');
  });
});

describe('binding, pooling and the flags', () => {
  it('the service account, the flags as written', () => {
    const settings = resolve({ permit_referrals: true });
    assert.equal(settings.user, SERVICE.user);
    assert.equal(settings.password, SERVICE.password);
    assert.equal(settings.permitReferrals, true);
    assert.equal(settings.permitUnauthenticatedBind, false);
    // Authelia 4.39.16 removed the option: detection failures are tolerated (logged)
    assert.equal(settings.permitFeatureDetectionFailure, true);
  });

  it('no password: the key is absent, not an empty string', () => {
    const settings = resolve({ password: '', permit_unauthenticated_bind: true });
    assert.equal('password' in settings, false);
    assert.equal(settings.permitUnauthenticatedBind, true);
  });

  it("pooling: Authelia's defaults (5 connections, 2 retries, 10s), and below 1 is the default", () => {
    assert.deepEqual(resolve({}).pooling, { enable: false, count: 5, retries: 2, timeoutMs: 10_000 });
    assert.deepEqual(resolve({ pooling: { enable: true, count: 0, retries: -1, timeout: 0 } }).pooling, { enable: true, count: 5, retries: 2, timeoutMs: 10_000 });
    assert.deepEqual(resolve({ pooling: { enable: true, count: 8, retries: 3, timeout: '2s' } }).pooling, { enable: true, count: 8, retries: 3, timeoutMs: 2_000 });
  });
});

describe('the address as ldapts takes it', () => {
  const url = (address: string) => resolve({ address }).url;

  it('default ports 389 and 636; a port as written', () => {
    assert.equal(url('ldap://ldap.example.com'), 'ldap://ldap.example.com:389');
    assert.equal(url('ldaps://ldap.example.com'), 'ldaps://ldap.example.com:636');
    assert.equal(url('ldap://ldap.example.com:3890'), 'ldap://ldap.example.com:3890');
  });

  it('no scheme is ldaps://; a bare path is ldapi://', () => {
    assert.equal(url('ldap.example.com'), 'ldaps://ldap.example.com:636');
    assert.equal(url('ldap.example.com:6360'), 'ldaps://ldap.example.com:6360');
    assert.equal(url('/run/slapd/ldapi'), 'ldapi://%2Frun%2Fslapd%2Fldapi');
  });

  it('ldapi: the socket path percent-encoded; none is go-ldap\'s /var/run/slapd/ldapi', () => {
    assert.equal(url('ldapi:///run/slapd/ldapi'), 'ldapi://%2Frun%2Fslapd%2Fldapi');
    assert.equal(url('ldapi:///run/my%20slapd/ldapi'), 'ldapi://%2Frun%2Fmy%20slapd%2Fldapi');
    assert.equal(url('ldapi://'), 'ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi');
  });

  it('IPv6 in brackets', () => {
    assert.equal(url('ldap://[::1]'), 'ldap://[::1]:389');
  });

  it('parseLdapAddress names the problem and never repeats the value', () => {
    const found = parseLdapAddress('ldaps://admin:hunter2@ldap.example.com');
    assert.ok('problem' in found);
    assert.doesNotMatch(found.problem, /hunter2/);
  });
});

describe('TLS', () => {
  it('ldaps: the server name is the host, TLS 1.2 at least, certificates checked', () => {
    const { tls, startTls } = resolve({ address: 'ldaps://dc1.example.com' });
    assert.equal(startTls, false);
    assert.equal(tls?.expectedName, 'dc1.example.com');
    assert.equal(tls?.servername, 'dc1.example.com');
    assert.equal(tls?.minVersion, 'TLSv1.2');
    assert.equal(tls?.rejectUnauthorized, true);
  });

  it('tls.server_name, versions and skip_verify as written', () => {
    const { tls } = resolve({ address: 'ldaps://10.0.0.5', tls: { server_name: 'ldap.example.com', minimum_version: 'TLS1.3', skip_verify: true } });
    assert.equal(tls?.expectedName, 'ldap.example.com');
    assert.equal(tls?.minVersion, 'TLSv1.3');
    assert.equal(tls?.rejectUnauthorized, false);
  });

  it('an IP address is checked but not sent as SNI', () => {
    const { tls } = resolve({ address: 'ldaps://10.0.0.5' });
    assert.equal(tls?.expectedName, '10.0.0.5');
    assert.equal(tls?.servername, undefined);
  });

  it('StartTLS over ldap:// gets the TLS options; plain ldap:// gets none', () => {
    const upgraded = resolve({ address: 'ldap://ldap.example.com', start_tls: true });
    assert.equal(upgraded.startTls, true);
    assert.equal(upgraded.tls?.expectedName, 'ldap.example.com');
    const plain = resolve({ address: 'ldap://127.0.0.1' });
    assert.equal(plain.startTls, false);
    assert.equal(plain.tls, undefined);
  });

  it('start_tls with ldaps:// is not StartTLS (the connection is TLS already), as in Authelia', () => {
    assert.equal(resolve({ address: 'ldaps://ldap.example.com', start_tls: true }).startTls, false);
  });

  it("certificates_directory's CAs are trusted", () => {
    const trusted: TrustedCertificates = { added: ['-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----'], ca: ['node-default', 'added'] };
    assert.deepEqual(resolve({}, trusted).tls?.ca, ['node-default', 'added']);
  });
});
