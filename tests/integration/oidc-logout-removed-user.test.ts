/**
 * A user removed from the users file, or disabled there, is signed out of their apps: each client gets
 * its back-channel logout token and the refresh tokens stop working; the other users' apps are untouched.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { join } from 'node:path';
import { eventually, login, startInProcessGateway, writeUsersFile, type InProcessGateway, type TestUser } from '../helpers/inprocess-gateway.ts';
import { openStorage } from '../../gateway/storage/open.ts';
import { silentLogger } from '../unit/storage/backends.ts';
import { clientDigest, discover, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';
import { checkLogoutToken, refreshWorks, signInTo, startLogoutReceiver, type LogoutReceiver } from '../helpers/oidc-logout.ts';
import { waitFor } from '../helpers/self-service.ts';

const SECRET = 'app-secret-that-is-long-enough-123';
const REDIRECT = 'https://wiki.example.test/oauth2/callback';
const USERS: Record<string, TestUser> = {
  alice: { password: 'Old-Lantern-Orbit-47' },
  bob: { password: 'Bobs-Quiet-Harbour-12' },
  carol: { password: 'Carols-Bright-Meadow-31' },
};

describe('OpenID Connect: a removed or disabled user is signed out of their apps', () => {
  let gw: InProcessGateway;
  let receiver: LogoutReceiver;
  before(async () => {
    receiver = await startLogoutReceiver();
    gw = await startInProcessGateway({
      users: USERS,
      config: {
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            clients: [
              {
                client_id: 'wiki',
                client_secret: await clientDigest(SECRET),
                redirect_uris: [REDIRECT],
                backchannel_logout_uri: receiver.uri('wiki'),
                scopes: ['openid', 'profile', 'offline_access'],
                grant_types: ['authorization_code', 'refresh_token'],
                authorization_policy: 'one_factor',
                consent_mode: 'implicit',
              },
            ],
          },
        },
      },
    });
  });
  after(async () => {
    await gw?.close();
    await receiver?.close();
  });

  const signedIn = async (username: string) => {
    const config = await discover(gw.port, 'wiki', SECRET);
    const cookie = await login(gw, username, USERS[username]!.password);
    return { config, ...(await signInTo(new OidcBrowser(gw.port, cookie), config, REDIRECT)) };
  };
  /** The one logout token for the provider session `sid`, once it arrived (the reload tells the apps after it answers). */
  const tokenForSid = (sid: unknown) => waitFor(`the logout token for ${String(sid)}`, () => receiver.tokensFor('wiki').find((t) => decodeJwt(t).sid === sid));

  it('removed through the users file editor (gatehouse users delete)', async () => {
    const bob = await signedIn('bob');
    const alice = await signedIn('alice');
    await gw.gateway.userAdmin!.deleteUser('bob');
    await checkLogoutToken(gw.port, await tokenForSid(bob.claims.sid), { clientId: 'wiki', idToken: bob.claims });
    assert.equal(await refreshWorks(bob.config, bob.tokens.refresh_token!), false);
    assert.equal(await refreshWorks(alice.config, alice.tokens.refresh_token!), true, "another user's app stays signed in");
    assert.ok(!receiver.tokensFor('wiki').some((t) => decodeJwt(t).sid === alice.claims.sid));
    // bob's OpenID Connect identity is forgotten: a new user named bob is someone else to every app
    const storage = await openStorage({ encryption_key: 'a-test-encryption-key-long-enough', local: { path: join(gw.dir, 'db.sqlite3') } }, { logger: silentLogger, migrate: false });
    try {
      assert.equal(await storage.oidc.existingSubject('alice'), alice.claims.sub, 'the user still there keeps hers');
      await eventually("bob's subject forgotten", async () => (await storage.oidc.existingSubject('bob')) === undefined);
    } finally {
      await storage.close();
    }
  });

  it('disabled in the users file, picked up by a reload', async () => {
    const carol = await signedIn('carol');
    const before = receiver.received.length;
    await writeUsersFile(gw.usersPath, { alice: USERS.alice!, carol: { ...USERS.carol!, disabled: true } });
    const reloaded = await gw.gateway.users.reload!();
    assert.equal(reloaded.status, 'loaded');
    await checkLogoutToken(gw.port, await tokenForSid(carol.claims.sid), { clientId: 'wiki', idToken: carol.claims });
    assert.equal(receiver.received.length - before, 1, 'only carol was signed out');
    assert.equal(await refreshWorks(carol.config, carol.tokens.refresh_token!), false);
  });
});
