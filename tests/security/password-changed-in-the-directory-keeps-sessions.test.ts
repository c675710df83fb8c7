// LDAP review: a session ends when its credential stamp changes, and the LDAP backend builds the stamp
// from the entry's identity and the first "password last changed" time it shows (pwdChangedTime,
// pwdLastSet, krbLastPwdChange, entryCSN, modifyTimestamp). LLDAP shows none of them but
// modifyTimestamp, which it answers with the entry's creation date (crates/ldap/src/core/utils.rs,
// map_user_field): the stamp of an LLDAP user never changes, so a password changed or reset in LLDAP
// itself (its web UI, an administrator) leaves every Gatehouse session made with the old password
// signed in until it expires. GLAuth shows neither a change time nor an identity (its user entries carry
// no operational attribute), so a GLAuth account removed and made again under the same name keeps the
// old one's sessions as well. Changes made through Gatehouse end the sessions themselves
// (password-reset.ts, setNewPassword). Nothing in Gatehouse can see an LLDAP password change, so the
// configuration says so, loudly, at every start.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authenticationBackendProblems } from '../../gateway/config/validate/authentication-backend.ts';
import { gatewayConfigSchema } from '../../gateway/config/schema.ts';

const LDAP = { address: 'ldaps://lldap.example.com', base_dn: 'dc=example,dc=com', user: 'uid=gatehouse,ou=people,dc=example,dc=com', password: 'service-account-password' };

function problems(implementation: string) {
  const backend = gatewayConfigSchema.parse({ authentication_backend: { ldap: { ...LDAP, implementation } } }).authentication_backend;
  return authenticationBackendProblems(backend).map((p) => ({ severity: p.severity, path: p.path, message: p.message }));
}

describe('a directory that shows no password change: the operator is told sessions outlive a change made there', () => {
  it('implementation lldap: a warning that a password changed in LLDAP does not end sessions', () => {
    const found = problems('lldap').filter((p) => p.path === 'authentication_backend.ldap.implementation');
    assert.equal(found.length, 1, JSON.stringify(problems('lldap')));
    assert.equal(found[0]!.severity, 'warning');
    assert.match(found[0]!.message, /does not end/);
    assert.match(found[0]!.message, /session/);
  });

  it('implementation glauth: the same warning, naming the account made again under the same name', () => {
    const found = problems('glauth').filter((p) => p.path === 'authentication_backend.ldap.implementation');
    assert.equal(found.length, 1, JSON.stringify(problems('glauth')));
    assert.equal(found[0]!.severity, 'warning');
    assert.match(found[0]!.message, /does not end/);
    assert.match(found[0]!.message, /same name/);
  });

  it('directories that show one (OpenLDAP, Active Directory, FreeIPA, 389-DS) get no such warning', () => {
    for (const implementation of ['custom', 'activedirectory', 'freeipa', 'rfc2307bis']) {
      const extra = implementation === 'custom' ? { users_filter: '(&({username_attribute}={input})(objectClass=person))', groups_filter: '(member={dn})' } : {};
      const backend = gatewayConfigSchema.parse({ authentication_backend: { ldap: { ...LDAP, implementation, ...extra } } }).authentication_backend;
      assert.deepEqual(authenticationBackendProblems(backend).filter((p) => p.path === 'authentication_backend.ldap.implementation'), [], implementation);
    }
  });
});
