/**
 * `gatehouse users rename` keeps the OpenID Connect subject: alice signs in to an app, is renamed to
 * alicia while the gateway runs, the gateway reloads the users file, and the ID token alicia gets
 * next names the same `sub`. Her old gateway session ends (it names a user who no longer exists).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import * as client from 'openid-client';
import { askAuthz, FAST_ARGON2, login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, codeFlowStart, discover, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';
import { runUsers } from '../../gateway/users/cli.ts';
import { openStorage } from '../../gateway/storage/open.ts';
import { storageOptionsFromConfig } from '../../gateway/storage/options.ts';
import { silentLogger } from '../unit/storage/backends.ts';

const REDIRECT = 'https://app.example.test/oauth2/callback';
const SECRET = 'app-secret-that-is-long-enough-123';
const PASSWORD = 'Old-Lantern-Orbit-47';

describe('OpenID Connect: the sub survives gatehouse users rename', () => {
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD, email: 'alice@example.test', groups: ['admins'] } },
      config: {
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            clients: [
              {
                client_id: 'app',
                client_secret: await clientDigest(SECRET),
                redirect_uris: [REDIRECT],
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
  after(() => gw?.close());

  async function signIn(username: string) {
    const config = await discover(gw.port, 'app', SECRET);
    const cookie = await login(gw, username, PASSWORD);
    const start = await codeFlowStart(config, REDIRECT, 'openid profile offline_access');
    const { leftTo, last } = await new OidcBrowser(gw.port, cookie).visit(start.url.href);
    assert.ok(leftTo, `the flow never left the portal: ${last.status} ${last.body.slice(0, 200)}`);
    const tokens = await client.authorizationCodeGrant(config, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    return { config, cookie, tokens, claims: tokens.claims()! };
  }

  it('alice, renamed alicia, signs in again: same sub, preferred_username alicia; her old session is over', async () => {
    const first = await signIn('alice');
    assert.equal((await client.fetchUserInfo(first.config, first.tokens.access_token, first.claims.sub)).preferred_username, 'alice');

    assert.equal((await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie: first.cookie })).status, 200);
    const out = new PassThrough();
    const err = new PassThrough();
    let errText = '';
    err.on('data', (chunk: Buffer) => (errText += chunk.toString('utf8')));
    out.resume();
    const rename = (from: string, to: string) =>
      runUsers(['rename', from, to], { stdin: new PassThrough(), stdout: out, stderr: err, isTTY: false }, {
        path: gw.usersPath,
        argon2: { ...FAST_ARGON2, key_length: 32, salt_length: 16 },
        storage: () => openStorage(storageOptionsFromConfig(gw.config.storage), { logger: silentLogger, migrate: false }),
      });
    assert.equal(await rename('alice', 'alicia'), 0, errText);
    assert.equal((await gw.gateway.users.reload!()).status, 'loaded');

    // the gateway session made as alice names nobody now
    assert.equal((await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie: first.cookie })).status, 401);
    const again = await signIn('alicia');
    assert.equal(again.claims.sub, first.claims.sub);
    assert.equal((await client.fetchUserInfo(again.config, again.tokens.access_token, again.claims.sub)).preferred_username, 'alicia');
    // the app's refresh token goes on for the same person, now alicia
    const refreshed = await client.refreshTokenGrant(first.config, first.tokens.refresh_token!);
    assert.equal(refreshed.claims()?.sub ?? first.claims.sub, first.claims.sub);
    const info = await client.fetchUserInfo(first.config, refreshed.access_token, first.claims.sub);
    assert.equal(info.preferred_username, 'alicia');

    // and back: signing 'alice' out of her apps on the reload made no subject for the name, so it is free
    assert.equal(await rename('alicia', 'alice'), 0, errText);
    assert.equal((await gw.gateway.users.reload!()).status, 'loaded');
    assert.equal((await signIn('alice')).claims.sub, first.claims.sub);
  });
});
