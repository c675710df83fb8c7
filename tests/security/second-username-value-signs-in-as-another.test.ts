// LDAP review: the username attribute (uid) is multi-valued in the directory's schema, and the backend
// took whichever value the directory listed first. An entry given a second uid (`alice` ahead of its
// own `dave`: one self-write ACL too many, or a careless import) signed in with dave's password as
// "alice" (her access rules, her name in every header and token), and real alice, now matched twice,
// could no longer sign in at all. Authelia refuses an entry with more than one username value; so does
// Gatehouse now: such an entry is no account, and the others the filter finds are unaffected.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Attribute, Change, Client } from 'ldapts';
import { LdapUserProvider } from '../../gateway/users/ldap.ts';
import type { LdapSettings } from '../../gateway/users/ldap-settings.ts';
import {
  LDAP_PASSWORDS, LDAP_ROOT_DN, LDAP_ROOT_PASSWORD, LDAP_SUFFIX, ldapSettingsFor, startSlapd, type Slapd,
} from '../helpers/slapd.ts';

const people = `ou=people,${LDAP_SUFFIX}`;

function settingsFor(url: string): LdapSettings {
  return ldapSettingsFor(url, {
    usersFilter: '(&(|({username_attribute}={input})({mail_attribute}={input}))(objectClass=inetOrgPerson))',
    attributes: { username: 'uid', displayName: 'displayName', mail: 'mail', memberOf: 'memberOf', groupName: 'cn', profile: {}, extra: {} },
    pooling: { enable: false, count: 1, retries: 0, timeoutMs: 1_000 },
  });
}

let slapd: Slapd;
let provider: LdapUserProvider;
before(async () => {
  slapd = await startSlapd();
  const root = new Client({ url: slapd.url, timeout: 2_000 });
  await root.bind(LDAP_ROOT_DN, LDAP_ROOT_PASSWORD);
  // dave's entry now also says uid: alice, listed first
  await root.modify(`uid=dave,${people}`, new Change({ operation: 'replace', modification: new Attribute({ type: 'uid', values: ['alice', 'dave'] }) }));
  const { searchEntries } = await root.search(`uid=dave,${people}`, { scope: 'base', attributes: ['uid'] });
  assert.deepEqual(searchEntries[0]?.['uid'], ['alice', 'dave'], 'the directory lists alice first');
  await root.unbind();
  provider = await LdapUserProvider.open(settingsFor(slapd.url), { logger: pino({ level: 'silent' }) });
});
after(async () => {
  await provider?.close();
  await slapd?.cleanup();
});

describe('an entry with two username values is no account', () => {
  it("dave's password does not sign in as alice (nor as dave)", async () => {
    const details = await provider.verifyPassword('dave', LDAP_PASSWORDS.dave);
    assert.notEqual(details?.username, 'alice');
    assert.equal(details, null);
    assert.equal(await provider.resolveLogin('dave'), null);
    assert.equal(await provider.getDetails('dave'), null);
  });

  it('real alice still signs in, and her details are hers', async () => {
    assert.equal((await provider.verifyPassword('alice', LDAP_PASSWORDS.alice))?.username, 'alice');
    assert.equal(await provider.resolveLogin('alice'), 'alice');
    assert.equal((await provider.getDetails('alice'))?.displayName, 'Alice Liddell');
  });
});
