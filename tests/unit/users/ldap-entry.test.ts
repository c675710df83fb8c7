/**
 * The Active Directory and LLDAP attribute tables against recorded entries (tests/fixtures/ldap/
 * recorded-entries.ts, as ldapts returns them): with the settings resolveLdapSettings makes of
 * `implementation: activedirectory` / `lldap`, what gateway/users/ldap-entry.ts reads from each entry
 * (the user, the details, the group names, the credential stamp), and Active Directory's unicodePwd.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayConfigSchema } from '../../../gateway/config/schema.ts';
import { resolveLdapSettings } from '../../../gateway/config/ldap-schema.ts';
import {
  activeDirectoryPassword, detailsFromEntry, groupNamesFrom, memberOfFromEntry, userAttributeNames, userFromEntry,
  type LdapEntry, type UserEntry,
} from '../../../gateway/users/ldap-entry.ts';
import type { LdapSettings } from '../../../gateway/users/ldap-settings.ts';
import { DEFAULT_TRUST } from '../../../lib/net/trusted-cas.ts';
import { AD_ASMITH, AD_JDOE, AD_JDOE_GROUPS, LLDAP_JDOE, LLDAP_JDOE_GROUPS } from '../../fixtures/ldap/recorded-entries.ts';

function settingsFor(ldap: Record<string, unknown>): LdapSettings {
  const config = gatewayConfigSchema.parse({ authentication_backend: { ldap: { user: 'cn=gatehouse', password: 'service-password', ...ldap } } });
  return resolveLdapSettings(config.authentication_backend.ldap!, DEFAULT_TRUST);
}

const AD = settingsFor({
  implementation: 'activedirectory',
  address: 'ldaps://dc1.corp.example.com',
  base_dn: 'DC=corp,DC=example,DC=com',
  attributes: {
    given_name: 'givenName', family_name: 'sn', phone_number: 'telephoneNumber', locality: 'l',
    extra: { userAccountControl: { name: 'account_control', value_type: 'integer' } },
  },
});
const AD_MEMBEROF = settingsFor({
  implementation: 'activedirectory',
  address: 'ldaps://dc1.corp.example.com',
  base_dn: 'DC=corp,DC=example,DC=com',
  group_search_mode: 'memberof',
  groups_filter: '(&(|{memberof:dn})(objectClass=group))',
});
const LLDAP = settingsFor({
  implementation: 'lldap',
  address: 'ldap://lldap:3890',
  base_dn: 'dc=example,dc=com',
  attributes: { given_name: 'givenName', family_name: 'sn' },
});

function user(entry: LdapEntry, settings: LdapSettings): UserEntry {
  const found = userFromEntry(entry, settings);
  assert.ok(found, 'the entry is a user');
  return found;
}

function stampOf(entry: LdapEntry, settings: LdapSettings): string {
  return detailsFromEntry(user(entry, settings), settings, []).credentialStamp!;
}

describe('Active Directory (implementation: activedirectory)', () => {
  it('the users search asks for every attribute the table names, objectGUID and pwdLastSet among them', () => {
    const names = userAttributeNames(AD);
    for (const name of ['sAMAccountName', 'displayName', 'mail', 'distinguishedName', 'memberOf', 'objectGUID', 'pwdLastSet', 'givenName', 'userAccountControl']) {
      assert.ok(names.includes(name), name);
    }
  });

  it('the user is sAMAccountName as the directory spells it, at the DN its distinguishedName says', () => {
    assert.deepEqual(userFromEntry(AD_JDOE, AD), { dn: 'CN=John Doe,OU=Staff,DC=corp,DC=example,DC=com', username: 'JDoe', entry: AD_JDOE });
    // an entry without sAMAccountName (a contact, a computer the filter let through) is nobody to sign in as
    assert.equal(userFromEntry({ ...AD_JDOE, sAMAccountName: [] }, AD), null);
    assert.equal(userFromEntry({ ...AD_JDOE, distinguishedName: [] }, AD), null);
  });

  it('details: displayName, mail, the profile attributes the file names, userAccountControl as a typed extra attribute', () => {
    const details = detailsFromEntry(user(AD_JDOE, AD), AD, ['Gatehouse Admins', 'Developers']);
    assert.equal(details.username, 'JDoe');
    assert.equal(details.displayName, 'John Doe');
    assert.deepEqual(details.emails, ['john.doe@corp.example.com']);
    assert.deepEqual(details.groups, ['Gatehouse Admins', 'Developers']);
    assert.deepEqual(details.attributes, {
      given_name: 'John',
      family_name: 'Doe',
      phone_number: '+1 555 0100',
      address: { locality: 'Springfield' },
      extra: { account_control: 512 },
    });
  });

  it('a user with no displayName, no mail and one group (memberOf a string, not a list)', () => {
    const asmith = user(AD_ASMITH, AD);
    const details = detailsFromEntry(asmith, AD, []);
    assert.equal(details.displayName, 'asmith');
    assert.deepEqual(details.emails, []);
    assert.deepEqual(details.attributes, { given_name: 'Ann', family_name: 'Smith', extra: { account_control: 66048 } });
    assert.deepEqual(memberOfFromEntry(asmith, AD), ['CN=Developers,OU=Groups,DC=corp,DC=example,DC=com']);
  });

  it('groups: filter mode names every group the search finds, by cn', () => {
    assert.deepEqual(memberOfFromEntry(user(AD_JDOE, AD), AD), ['CN=Gatehouse Admins,OU=Groups,DC=corp,DC=example,DC=com', 'CN=Developers,OU=Groups,DC=corp,DC=example,DC=com']);
    assert.deepEqual(groupNamesFrom(AD_JDOE_GROUPS, AD, []), ['Gatehouse Admins', 'Developers']);
  });

  it('groups: memberof mode keeps only the groups memberOf lists (DNs in any case), one name each', () => {
    const memberOf = memberOfFromEntry(user(AD_JDOE, AD_MEMBEROF), AD_MEMBEROF);
    const found: LdapEntry[] = [
      // the directory may spell the DN in another case than memberOf does
      { dn: 'cn=gatehouse admins,ou=groups,dc=corp,dc=example,dc=com', cn: 'Gatehouse Admins' },
      { dn: 'CN=Developers,OU=Groups,DC=corp,DC=example,DC=com', cn: 'Developers' },
      // found by the filter but not in the user's memberOf: not the user's group
      { dn: 'CN=Domain Users,CN=Users,DC=corp,DC=example,DC=com', cn: 'Domain Users' },
    ];
    assert.deepEqual(groupNamesFrom(found, AD_MEMBEROF, memberOf), ['Gatehouse Admins', 'Developers']);
    // a group with two names: which one a rule would match is a guess, so it is left out
    assert.deepEqual(groupNamesFrom([{ dn: found[1]!.dn, cn: ['Developers', 'Devs'] }], AD_MEMBEROF, memberOf), []);
  });

  it('the credential stamp changes with pwdLastSet, and with objectGUID (the account made again), not with other edits', () => {
    const stamp = stampOf(AD_JDOE, AD);
    assert.match(stamp, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(stampOf({ ...AD_JDOE }, AD), stamp, 'the same entry read again');
    assert.notEqual(stampOf({ ...AD_JDOE, pwdLastSet: '134405892000000000' }, AD), stamp, 'a new password');
    // "must change at next logon" sets pwdLastSet to 0: also a change
    assert.notEqual(stampOf({ ...AD_JDOE, pwdLastSet: '0' }, AD), stamp);
    assert.notEqual(stampOf({ ...AD_JDOE, objectGUID: Buffer.from('b1b2c3d4e5f60718293a4b5c6d7e8f90', 'hex') }, AD), stamp, 'another account, same name');
    // a phone number or display name edited changes modifyTimeStamp: sessions go on
    assert.equal(stampOf({ ...AD_JDOE, modifyTimeStamp: '20261202120000.0Z', telephoneNumber: '+1 555 0199' }, AD), stamp);
    // DNs are compared in any case
    assert.equal(stampOf({ ...AD_JDOE, distinguishedName: 'cn=john doe,ou=staff,dc=corp,dc=example,dc=com' }, AD), stamp);
    assert.notEqual(stampOf(AD_ASMITH, AD), stamp);
  });

  it('unicodePwd: the new password in double quotes, UTF-16LE (surrogate pairs kept)', () => {
    assert.deepEqual(activeDirectoryPassword('Ab1'), Buffer.from([0x22, 0, 0x41, 0, 0x62, 0, 0x31, 0, 0x22, 0]));
    const password = 'Pässwörd-✓-🔑';
    const value = activeDirectoryPassword(password);
    assert.equal(value.length, 2 * (password.length + 2));
    assert.equal(value.toString('utf16le'), `"${password}"`);
    assert.deepEqual([...value.subarray(-6)], [0x3d, 0xd8, 0x11, 0xdd, 0x22, 0x00]);
  });
});

describe('LLDAP (implementation: lldap)', () => {
  it('the users search asks for uid, cn, mail, memberOf, entryUUID and pwdChangedTime', () => {
    const names = userAttributeNames(LLDAP);
    for (const name of ['uid', 'cn', 'mail', 'memberOf', 'entryUUID', 'pwdChangedTime', 'modifyTimestamp']) assert.ok(names.includes(name), name);
    assert.equal(LLDAP.usersBaseDn, 'OU=people,dc=example,dc=com');
  });

  it('the user is uid at the entry DN; the display name is cn', () => {
    const jdoe = user(LLDAP_JDOE, LLDAP);
    assert.deepEqual({ dn: jdoe.dn, username: jdoe.username }, { dn: 'uid=jdoe,ou=people,dc=example,dc=com', username: 'jdoe' });
    const details = detailsFromEntry(jdoe, LLDAP, groupNamesFrom(LLDAP_JDOE_GROUPS, LLDAP, memberOfFromEntry(jdoe, LLDAP)));
    assert.deepEqual(details, {
      username: 'jdoe',
      displayName: 'John Doe',
      emails: ['jdoe@example.com'],
      groups: ['lldap_admin', 'dev'],
      credentialStamp: details.credentialStamp,
      attributes: { given_name: 'John', family_name: 'Doe' },
    });
    assert.deepEqual(memberOfFromEntry(jdoe, LLDAP), ['cn=lldap_admin,ou=groups,dc=example,dc=com', 'cn=dev,ou=groups,dc=example,dc=com']);
  });

  it('a user LLDAP shows without a display name is named by their username', () => {
    assert.equal(detailsFromEntry(user({ ...LLDAP_JDOE, cn: [] }, LLDAP), LLDAP, []).displayName, 'jdoe');
  });

  it('the credential stamp changes with pwdChangedTime and entryUUID, not with modifyTimestamp alone', () => {
    const stamp = stampOf(LLDAP_JDOE, LLDAP);
    assert.notEqual(stampOf({ ...LLDAP_JDOE, pwdChangedTime: '2026-12-02T08:00:00+00:00' }, LLDAP), stamp, 'a new password');
    assert.notEqual(stampOf({ ...LLDAP_JDOE, entryUUID: '9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d' }, LLDAP), stamp, 'the user deleted and made again');
    assert.equal(stampOf({ ...LLDAP_JDOE, modifyTimestamp: '2026-12-03T08:00:00+00:00', cn: 'Johnny Doe' }, LLDAP), stamp);
  });

  it('an OpenLDAP entry (entryCSN, no password policy): the stamp changes with entryCSN', () => {
    const rfc = settingsFor({ implementation: 'rfc2307bis', address: 'ldap://ldap', base_dn: 'dc=example,dc=com' });
    const entry: LdapEntry = {
      dn: 'uid=jdoe,ou=people,dc=example,dc=com', uid: 'jdoe', displayName: 'John Doe', mail: 'jdoe@example.com',
      entryUUID: '1f2e3d4c-5b6a-1038-8a9b-0c1d2e3f4a5b', entryCSN: '20261201101500.123456Z#000000#000#000000', modifyTimestamp: '20261201101500Z',
      objectGUID: [], ipaUniqueID: [], nsUniqueId: [], pwdChangedTime: [], pwdLastSet: [], krbLastPwdChange: [], memberOf: [],
    };
    assert.notEqual(stampOf({ ...entry, entryCSN: '20261201101500.654321Z#000000#000#000000' }, rfc), stampOf(entry, rfc));
  });
});
