/**
 * The gateway with authentication_backend.ldap against a real slapd (tests/helpers/slapd.ts): sign-in
 * through the portal API, forward-auth decisions on directory groups with the Remote-* headers, a
 * disabled or unknown user, filter injection, a group removed in the directory taking effect after
 * refresh_interval, the directory down (503, never a wrong password) and back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Attribute, Change } from 'ldapts';
import { asLdapRoot as asRoot, gatewayLdapConfig, giveServiceAccountSecret, LDAP_PASSWORDS, LDAP_SUFFIX, startSlapd, type Slapd } from '../helpers/slapd.ts';
import { askAuthz, eventually, firstFactor, login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';

const APP = 'https://app.example.test/';
const ADMIN = 'https://admin.example.test/';

describe('the gateway with an LDAP directory (slapd): sign-in, groups in rules, changes and outages', () => {
  let slapd: Slapd;
  let gw: InProcessGateway;
  before(async () => {
    slapd = await startSlapd();
    const servicePassword = await giveServiceAccountSecret(slapd);
    gw = await startInProcessGateway({
      config: {
        authentication_backend: {
          refresh_interval: '1m',
          password_reset: { disable: true },
          ldap: gatewayLdapConfig(slapd, servicePassword),
        },
        access_control: {
          default_policy: 'deny',
          rules: [
            { domain: 'admin.example.test', subject: ['group:admins'], policy: 'one_factor' },
            { domain: 'app.example.test', subject: ['group:dev'], policy: 'one_factor' },
          ],
        },
      },
    });
  });
  after(async () => {
    await gw?.close();
    await slapd?.cleanup();
  });

  it('alice signs in with her directory password; forward auth passes her groups and e-mail to the app', async () => {
    const cookie = await login(gw, 'alice', LDAP_PASSWORDS.alice);
    for (const target of [APP, ADMIN]) {
      const response = await askAuthz(gw, 'forward-auth', target, { cookie });
      assert.equal(response.status, 200, `${target}: ${response.body}`);
      assert.equal(response.headers['remote-user'], 'alice');
      assert.deepEqual(String(response.headers['remote-groups']).split(',').sort(), ['admins', 'dev']);
      assert.equal(response.headers['remote-email'], 'alice@example.test');
    }
  });

  it('bob (dev only) reaches the app and is forbidden the admin site', async () => {
    const cookie = await login(gw, 'bob', LDAP_PASSWORDS.bob);
    assert.equal((await askAuthz(gw, 'forward-auth', APP, { cookie })).status, 200);
    assert.equal((await askAuthz(gw, 'forward-auth', ADMIN, { cookie })).status, 403);
  });

  it('a wrong password, a disabled user, an unknown user and filter injections are all refused as bad credentials', async () => {
    for (const [username, password] of [
      ['alice', 'not-her-password'],
      ['carol', LDAP_PASSWORDS.carol],
      ['mallory', 'whatever-password'],
      ['*', LDAP_PASSWORDS.alice],
      ['*)(uid=*', LDAP_PASSWORDS.alice],
      ['alice)(|(uid=*', LDAP_PASSWORDS.alice],
    ] as const) {
      const response = await firstFactor(gw, { username, password }, { 'x-forwarded-for': `198.51.100.${username.length}` });
      assert.equal(response.status, 401, `${username}: ${response.status} ${response.body}`);
      assert.equal(response.cookies.find((c) => c.name === 'gatehouse_session' && c.value !== ''), undefined, username);
    }
  });

  it('bob removed from dev in the directory loses the app once refresh_interval has passed', async () => {
    const cookie = await login(gw, 'bob', LDAP_PASSWORDS.bob);
    assert.equal((await askAuthz(gw, 'forward-auth', APP, { cookie })).status, 200);
    await asRoot(slapd.url, (client) =>
      client.modify(`cn=dev,ou=groups,${LDAP_SUFFIX}`, new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [`uid=bob,ou=people,${LDAP_SUFFIX}`] }) })),
    );
    // within refresh_interval the cached groups still answer
    assert.equal((await askAuthz(gw, 'forward-auth', APP, { cookie })).status, 200);
    // past refresh_interval (1m), within the session's inactivity (5m)
    gw.clock.advance(2 * 60_000);
    await eventually('bob forbidden the app after the refresh', async () => (await askAuthz(gw, 'forward-auth', APP, { cookie })).status === 403);
  });

  it('the directory down: a sign-in answers 503 (never "wrong password"), and works again once it is back', async () => {
    await slapd.stop();
    try {
      const response = await firstFactor(gw, { username: 'alice', password: LDAP_PASSWORDS.alice });
      assert.equal(response.status, 503, response.body);
      assert.match(response.body, /directory is unavailable/);
    } finally {
      await slapd.start();
    }
    await login(gw, 'alice', LDAP_PASSWORDS.alice);
  });
});
