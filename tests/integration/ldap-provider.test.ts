import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { ConfigError, unavailableMessage } from '../../lib/errors.ts';
import { tlsClientOptions } from '../../lib/net/tls-client.ts';
import { DEFAULT_TRUST } from '../../lib/net/trusted-cas.ts';
import { UserNotFoundError } from '../../gateway/users/errors.ts';
import { LdapUserProvider } from '../../gateway/users/ldap.ts';
import { LdapConnections, LdapUnavailableError } from '../../gateway/users/ldap-connection.ts';
import type { LdapSettings } from '../../gateway/users/ldap-settings.ts';
import { freePort } from '../helpers/ports.ts';
import {
  asLdapRoot as asRoot, LDAP_PASSWORDS, LDAP_SERVICE_DN, LDAP_SUFFIX, ldapSettingsFor, startSlapd, type Slapd,
} from '../helpers/slapd.ts';
import { captureLogs } from '../helpers/logs.ts';
import { startStallProxy } from '../helpers/stall-proxy.ts';

const logger = pino({ level: 'silent' });
const people = `ou=people,${LDAP_SUFFIX}`;
const groups = `ou=groups,${LDAP_SUFFIX}`;

const settingsFor = ldapSettingsFor;

async function rejectsUnavailable(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof LdapUnavailableError, `expected LdapUnavailableError, got ${String(error)}`);
    assert.equal(error.code, 'user_directory_unavailable');
    assert.match(error.message, pattern);
    // what the portal and forward auth answer with a 503
    assert.equal(unavailableMessage(error), 'The user directory is unavailable, try again shortly.');
    return true;
  });
}

let slapd: Slapd;
const opened: LdapUserProvider[] = [];
async function open(settings: LdapSettings, options: { logger?: typeof logger } = {}): Promise<LdapUserProvider> {
  const provider = await LdapUserProvider.open(settings, { logger: options.logger ?? logger });
  opened.push(provider);
  return provider;
}

before(async () => {
  slapd = await startSlapd();
});
after(async () => {
  for (const provider of opened) await provider.close();
  await slapd?.cleanup();
});

describe('signing in binds as the one entry the users filter finds', () => {
  it('the right password gives the canonical details: username, display name, every mail, groups, profile', async () => {
    const provider = await open(settingsFor(slapd.url));
    const details = await provider.verifyPassword('alice', LDAP_PASSWORDS.alice);
    assert.ok(details);
    assert.equal(details.username, 'alice');
    assert.equal(details.displayName, 'Alice Liddell');
    assert.deepEqual(details.emails, ['alice@example.test', 'alice.liddell@example.test']);
    assert.deepEqual([...details.groups].sort(), ['admins', 'dev']);
    assert.deepEqual(details.attributes, { given_name: 'Alice', family_name: 'Liddell', locale: 'en-GB' });
    assert.match(details.credentialStamp, /^[\w-]{43}$/);
    assert.deepEqual(await provider.getDetails('alice'), details);
  });

  it('a username holding filter syntax (pat(*)) signs in as itself: its login and its DN in the groups filter are escaped', async () => {
    const provider = await open(settingsFor(slapd.url));
    const details = await provider.verifyPassword('pat(*)', LDAP_PASSWORDS['pat(*)']);
    assert.equal(details?.username, 'pat(*)');
    assert.deepEqual(details?.groups, ['dev']);
    assert.equal(await provider.resolveLogin('pat(x)'), null);
  });

  it('a login by e-mail or in another case resolves to the username as stored', async () => {
    const provider = await open(settingsFor(slapd.url));
    assert.equal((await provider.verifyPassword('alice.liddell@example.test', LDAP_PASSWORDS.alice))?.username, 'alice');
    assert.equal((await provider.verifyPassword('ALICE', LDAP_PASSWORDS.alice))?.username, 'alice');
    assert.equal(await provider.resolveLogin('Bob@Example.Test'), 'bob');
  });

  it('a wrong password, an unknown user and another user\'s password are refused', async () => {
    const provider = await open(settingsFor(slapd.url));
    assert.equal(await provider.verifyPassword('alice', 'not-her-password'), null);
    assert.equal(await provider.verifyPassword('alice', LDAP_PASSWORDS.bob), null);
    assert.equal(await provider.verifyPassword('mallory', 'anything'), null);
    assert.equal(await provider.resolveLogin('mallory'), null);
    assert.equal(await provider.getDetails('mallory'), null);
  });

  it('an empty password is refused without a connection (it would be an unauthenticated bind, RFC 4513 5.1.2)', async () => {
    const proxy = await startStallProxy({ host: '127.0.0.1', port: slapd.port });
    try {
      const provider = await open(settingsFor(`ldap://127.0.0.1:${proxy.port}`));
      assert.equal(await provider.verifyPassword('alice', ''), null);
      assert.equal(proxy.accepted, 0);
    } finally {
      await proxy.close();
    }
  });

  it('a user the users filter excludes (employeeType=disabled) cannot sign in and has no details', async () => {
    const provider = await open(settingsFor(slapd.url));
    assert.equal(await provider.verifyPassword('carol', LDAP_PASSWORDS.carol), null);
    assert.equal(await provider.getDetails('carol'), null);
    assert.equal(await provider.resolveLogin('carol'), null);
  });
});

describe('filter injection (RFC 4515 section 3): a login is only ever a value', () => {
  const attempts = ['*', '*)(uid=*', 'alice)(|(uid=*', 'al*', 'alice)', '(uid=alice)', 'alice\u0000', 'alice\\', '\\61lice', 'alice\\00', '*)(|(objectClass=*'];
  for (const login of attempts) {
    it(`${JSON.stringify(login)} matches nobody`, async () => {
      const provider = await open(settingsFor(slapd.url));
      assert.equal(await provider.resolveLogin(login), null);
      assert.equal(await provider.verifyPassword(login, LDAP_PASSWORDS.alice), null);
      assert.equal(await provider.getDetails(login), null);
    });
  }
});

describe('groups', () => {
  it('by memberOf (group_search_mode: memberof): the groups the entry names, by their group name', async () => {
    const provider = await open(settingsFor(slapd.url, {
      groupSearchMode: 'memberof',
      groupsFilter: '(&(|{memberof:rdn})(objectClass=groupOfNames))',
    }));
    assert.deepEqual([...(await provider.getDetails('alice'))!.groups].sort(), ['admins', 'dev']);
    assert.deepEqual((await provider.getDetails('bob'))!.groups, ['dev']);
  });

  it('a user removed from a group no longer has it at the next getDetails (filter and memberof modes)', async () => {
    const byFilter = await open(settingsFor(slapd.url));
    const byMemberOf = await open(settingsFor(slapd.url, { groupSearchMode: 'memberof', groupsFilter: '(&(|{memberof:rdn})(objectClass=groupOfNames))' }));
    const before = await byFilter.getDetails('bob');
    assert.deepEqual(before!.groups, ['dev']);
    const { Change, Attribute } = await import('ldapts');
    const member = (operation: 'add' | 'delete') => new Change({ operation, modification: new Attribute({ type: 'member', values: [`uid=bob,${people}`] }) });
    await asRoot(slapd.url, (client) => client.modify(`cn=dev,${groups}`, member('delete')));
    try {
      const afterRemoval = await byFilter.getDetails('bob');
      assert.deepEqual(afterRemoval!.groups, []);
      // a group change is not a credential change: bob's sessions go on (with fewer groups)
      assert.equal(afterRemoval!.credentialStamp, before!.credentialStamp);
      assert.deepEqual((await byMemberOf.getDetails('bob'))!.groups, []);
    } finally {
      await asRoot(slapd.url, (client) => client.modify(`cn=dev,${groups}`, member('add')));
    }
    assert.deepEqual((await byFilter.getDetails('bob'))!.groups, ['dev']);
  });
});

describe('changing a password (Password Modify, RFC 3062)', () => {
  it('the new password signs in, the old one no longer does, and the credential stamp changes', async () => {
    const provider = await open(settingsFor(slapd.url));
    const before = await provider.verifyPassword('dave', LDAP_PASSWORDS.dave);
    assert.ok(before);
    await provider.updatePassword('dave', 'a-new-password-for-dave');
    assert.equal(await provider.verifyPassword('dave', LDAP_PASSWORDS.dave), null);
    const afterChange = await provider.verifyPassword('dave', 'a-new-password-for-dave');
    assert.ok(afterChange);
    assert.notEqual(afterChange.credentialStamp, before.credentialStamp);
    // through Password Modify the directory hashed it (a userPassword replace would have stored it as sent)
    let stored: unknown;
    await asRoot(slapd.url, async (client) => {
      stored = (await client.search(`uid=dave,${people}`, { scope: 'base', attributes: ['userPassword'] })).searchEntries[0]?.['userPassword'];
    });
    assert.match(String(stored), /^\{SSHA\}/);
  });

  it('an unknown user is UserNotFoundError, not an outage', async () => {
    const provider = await open(settingsFor(slapd.url));
    await assert.rejects(provider.updatePassword('mallory', 'whatever-password'), UserNotFoundError);
  });
});

describe('ldapi:// (the directory\'s Unix socket)', () => {
  it('signs in over the socket', async () => {
    const provider = await open(settingsFor(slapd.ldapiUrl));
    assert.equal((await provider.verifyPassword('alice', LDAP_PASSWORDS.alice))?.username, 'alice');
    await provider.startupCheck();
  });
});

describe('TLS: StartTLS and LDAPS check the server against the configured CA', () => {
  const trusted = () => ({ added: [slapd.certPem], ca: [slapd.certPem] });

  it('StartTLS with the CA signs in; without it the connection is refused with the reason', async () => {
    const withCa = await open(settingsFor(slapd.url, { startTls: true, tls: tlsClientOptions({ skip_verify: false, minimum_version: 'TLS1.2' }, trusted(), '127.0.0.1') }));
    assert.equal((await withCa.verifyPassword('alice', LDAP_PASSWORDS.alice))?.username, 'alice');
    await withCa.startupCheck();
    const withoutCa = await open(settingsFor(slapd.url, { startTls: true, tls: tlsClientOptions({ skip_verify: false, minimum_version: 'TLS1.2' }, DEFAULT_TRUST, '127.0.0.1') }));
    await rejectsUnavailable(withoutCa.verifyPassword('alice', LDAP_PASSWORDS.alice), /TLS: the server's certificate is not signed by a trusted CA/);
    await rejectsUnavailable(withoutCa.startupCheck(), /TLS: the server's certificate is not signed by a trusted CA/);
  });

  it('LDAPS with the CA signs in; without it, or under a name the certificate lacks, it is refused', async () => {
    const withCa = await open(settingsFor(slapd.ldapsUrl, { tls: tlsClientOptions({ skip_verify: false, minimum_version: 'TLS1.2' }, trusted(), '127.0.0.1') }));
    assert.equal((await withCa.verifyPassword('bob', LDAP_PASSWORDS.bob))?.username, 'bob');
    const withoutCa = await open(settingsFor(slapd.ldapsUrl, { tls: tlsClientOptions({ skip_verify: false, minimum_version: 'TLS1.2' }, DEFAULT_TRUST, '127.0.0.1') }));
    await rejectsUnavailable(withoutCa.verifyPassword('bob', LDAP_PASSWORDS.bob), /not signed by a trusted CA/);
    const wrongName = await open(settingsFor(slapd.ldapsUrl, { tls: tlsClientOptions({ skip_verify: false, minimum_version: 'TLS1.2', server_name: 'ldap.elsewhere.test' }, trusted(), '127.0.0.1') }));
    await rejectsUnavailable(wrongName.verifyPassword('bob', LDAP_PASSWORDS.bob), /does not name the server/);
  });
});

describe('a dropped connection is never reopened behind the provider\'s back', () => {
  it('ldapts would reconnect in clear, unbound and without StartTLS: the next request fails at once instead', async () => {
    const proxy = await startStallProxy({ host: '127.0.0.1', port: slapd.port });
    const tls = tlsClientOptions({ skip_verify: false, minimum_version: 'TLS1.2' }, { added: [slapd.certPem], ca: [slapd.certPem] }, '127.0.0.1');
    const connections = new LdapConnections(settingsFor(`ldap://127.0.0.1:${proxy.port}`, { startTls: true, tls, timeoutMs: 5_000 }), await import('ldapts'));
    try {
      const started = performance.now();
      await rejectsUnavailable(connections.asService('testing', async (client) => {
        assert.equal((await client.search(people, { scope: 'one', filter: '(uid=alice)' })).searchEntries.length, 1);
        proxy.refuse();
        // the request in flight when the connection drops fails (once it has, the drop has been seen)
        assert.ok((await client.search(people, { scope: 'one', filter: '(uid=alice)' }).catch((error: unknown) => error)) instanceof Error);
        proxy.resume();
        // ldapts would write this into the dead TLS socket and wait for the timeout
        await client.search(people, { scope: 'one', filter: '(uid=alice)' });
      }), /the connection was lost/);
      assert.equal(proxy.accepted, 1, 'a second connection was opened');
      // failed at once, not after the 5 s timeout (ldapts itself does not see a StartTLS socket close)
      assert.ok(performance.now() - started < 2_000);
      // the next call opens a new connection (StartTLS and bind again) and works
      assert.equal(await connections.asService('testing', async (client) => (await client.search(people, { scope: 'one', filter: '(uid=bob)' })).searchEntries.length), 1);
      assert.equal(proxy.accepted, 2);
    } finally {
      await connections.close();
      await proxy.close();
    }
  });
});

describe('startupCheck says what is wrong', () => {
  it('passes against a working directory, and with a users filter that finds nobody', async () => {
    await (await open(settingsFor(slapd.url))).startupCheck();
    await (await open(settingsFor(slapd.url, { usersFilter: '(&(uid={input})(objectClass=device))' }))).startupCheck();
  });

  it('names the service account, the base DN, the address and the filter', async () => {
    await rejectsUnavailable((await open(settingsFor(slapd.url, { password: 'wrong' }))).startupCheck(), /refused the service account's bind.*user and password/);
    await rejectsUnavailable((await open(settingsFor(slapd.url, { user: `cn=nobody,ou=services,${LDAP_SUFFIX}` }))).startupCheck(), /refused the service account's bind/);
    await rejectsUnavailable((await open(settingsFor(slapd.url, { usersBaseDn: `ou=staff,${LDAP_SUFFIX}` }))).startupCheck(), /ou=staff,dc=example,dc=test does not exist.*additional_users_dn/);
    const closedPort = await freePort();
    await rejectsUnavailable((await open(settingsFor(`ldap://127.0.0.1:${closedPort}`))).startupCheck(), /cannot connect \(ECONNREFUSED\)/);
    await assert.rejects((await open(settingsFor(slapd.url, { usersFilter: '(&(uid={input})(objectClass=person)' }))).startupCheck(), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /^config: authentication_backend\.ldap\.users_filter: is not a valid LDAP filter/);
      return true;
    });
  });
});

describe('a directory that stops or hangs fails closed, then recovers by itself', () => {
  for (const { pooling, startTls } of [{ pooling: false, startTls: false }, { pooling: true, startTls: false }, { pooling: false, startTls: true }]) {
    it(`stopped mid-run: sign-in and details are refused as unavailable, then work again after the restart (pooling ${pooling ? 'on' : 'off'}${startTls ? ', StartTLS' : ''})`, async () => {
      const logs = captureLogs();
      const tls = startTls ? { startTls, tls: tlsClientOptions({ skip_verify: false, minimum_version: 'TLS1.2' }, { added: [slapd.certPem], ca: [slapd.certPem] }, '127.0.0.1') } : {};
      const provider = await open(settingsFor(slapd.url, { ...tls, pooling: { enable: pooling, count: 2, retries: 1, timeoutMs: 1_000 } }), { logger: logs.logger });
      assert.equal((await provider.verifyPassword('alice', LDAP_PASSWORDS.alice))?.username, 'alice');
      await slapd.stop();
      try {
        await rejectsUnavailable(provider.verifyPassword('alice', LDAP_PASSWORDS.alice), /cannot connect \(ECONNREFUSED\)|connection was lost|closed/i);
        await rejectsUnavailable(provider.getDetails('alice'), /cannot connect \(ECONNREFUSED\)/);
        await rejectsUnavailable(provider.resolveLogin('alice'), /cannot connect \(ECONNREFUSED\)/);
      } finally {
        await slapd.start();
      }
      assert.equal((await provider.verifyPassword('alice', LDAP_PASSWORDS.alice))?.username, 'alice');
      assert.equal((await provider.getDetails('bob'))?.username, 'bob');
      // the outage is logged once when it begins and once when it ends, not per request
      const lines = logs.records.map((record) => record.msg).filter((msg) => msg.startsWith('user backend (ldap)'));
      assert.deepEqual(lines.map((msg) => msg.replace(/ after \d+ failures$/, '')), [
        'user backend (ldap): unavailable; requests that need it fail until it answers again',
        'user backend (ldap): available again',
      ]);
    });
  }

  it('a stalled directory: each call gives up after timeoutMs, and answers again once it moves', async () => {
    const proxy = await startStallProxy({ host: '127.0.0.1', port: slapd.port });
    try {
      const provider = await open(settingsFor(`ldap://127.0.0.1:${proxy.port}`, { timeoutMs: 300 }));
      assert.equal((await provider.verifyPassword('alice', LDAP_PASSWORDS.alice))?.username, 'alice');
      proxy.stall();
      const started = performance.now();
      await rejectsUnavailable(provider.verifyPassword('alice', LDAP_PASSWORDS.alice), /no answer within 300 ms/);
      await rejectsUnavailable(provider.getDetails('alice'), /no answer within 300 ms/);
      assert.ok(performance.now() - started < 2_000, 'two calls against a hung directory took longer than their timeouts');
      proxy.resume();
      assert.equal((await provider.verifyPassword('alice', LDAP_PASSWORDS.alice))?.username, 'alice');
    } finally {
      await proxy.close();
    }
  });
});

describe('service connections: one shared, or a pool of pooling.count', () => {
  it('a call waits at most pooling.timeout for a connection to come free, and the pool recovers afterwards', async () => {
    const proxy = await startStallProxy({ host: '127.0.0.1', port: slapd.port });
    try {
      const provider = await open(settingsFor(`ldap://127.0.0.1:${proxy.port}`, { timeoutMs: 400, pooling: { enable: true, count: 1, retries: 0, timeoutMs: 150 } }));
      assert.equal((await provider.getDetails('alice'))?.username, 'alice');
      proxy.stall();
      const holding = provider.getDetails('alice');
      await rejectsUnavailable(provider.getDetails('bob'), /no connection to the directory came free within 150 ms/);
      await rejectsUnavailable(holding, /no answer within 400 ms/);
      proxy.resume();
      // the one slot was not lost to the calls that gave up
      const again = await Promise.all(['alice', 'bob', 'dave'].map((name) => provider.getDetails(name)));
      assert.deepEqual(again.map((details) => details?.username), ['alice', 'bob', 'dave']);
    } finally {
      await proxy.close();
    }
  });

  for (const pooling of [false, true]) {
    it(`concurrent sign-ins and lookups share the service connection${pooling ? 's (a pool of 2)' : ''}`, async () => {
      const provider = await open(settingsFor(slapd.url, { pooling: { enable: pooling, count: 2, retries: 1, timeoutMs: 2_000 } }));
      const users = ['alice', 'bob', 'dave', 'alice', 'bob', 'dave', 'alice', 'bob'] as const;
      const lookups = await Promise.all(users.map((name) => provider.getDetails(name)));
      assert.deepEqual(lookups.map((details) => details?.username), users);
      const logins = await Promise.all(['alice', 'bob', 'alice', 'bob'].map((name) => provider.verifyPassword(name, LDAP_PASSWORDS[name as 'alice' | 'bob'])));
      assert.deepEqual(logins.map((details) => details?.username), ['alice', 'bob', 'alice', 'bob']);
    });
  }
});
