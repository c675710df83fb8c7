/**
 * The OpenID Connect provider on PostgreSQL storage (the other tests use SQLite): the code flow with
 * refresh rotation, a code that works once (its tokens revoked on reuse), and a code past its lifespan
 * by the gateway's clock.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, codeFlowStart, discover, oauthError, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';

const REDIRECT = 'https://app.example.test/oauth2/callback';
const SECRET = 'app-secret-that-is-long-enough-123';
const PASSWORD = 'Old-Lantern-Orbit-47';

describe('OpenID Connect on PostgreSQL storage', () => {
  let gw: InProcessGateway;
  let database: TestDatabase;
  let cookie: string;
  before(async () => {
    database = await createTestDatabase();
    const { timeout: _ms, ...connection } = database.options;
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD, email: 'alice@example.test', groups: ['admins'] } },
      config: {
        storage: { local: undefined, postgres: { ...connection, timeout: '5s' } },
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            clients: [
              {
                client_id: 'app',
                client_secret: await clientDigest(SECRET),
                redirect_uris: [REDIRECT],
                scopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
                grant_types: ['authorization_code', 'refresh_token'],
                authorization_policy: 'one_factor',
                consent_mode: 'implicit',
                require_pkce: true,
              },
            ],
          },
        },
      },
    });
    cookie = await login(gw, 'alice', PASSWORD);
  });
  after(async () => {
    await gw?.close();
    await database?.drop();
  });

  async function authorize(config: client.Configuration) {
    const start = await codeFlowStart(config, REDIRECT, 'openid profile email groups offline_access');
    const { leftTo, last } = await new OidcBrowser(gw.port, cookie).visit(start.url.href);
    assert.ok(leftTo, `the flow never left the portal: ${last.status} ${last.body.slice(0, 300)}`);
    assert.equal(`${leftTo.origin}${leftTo.pathname}`, REDIRECT);
    return { callback: leftTo, checks: { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce } };
  }

  it('the code flow: tokens, userinfo, a refresh that rotates', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const { callback, checks } = await authorize(config);
    const tokens = await client.authorizationCodeGrant(config, callback, checks);
    const sub = tokens.claims()!.sub;
    assert.deepEqual(tokens.claims()!.amr, ['pwd']);
    const info = await client.fetchUserInfo(config, tokens.access_token, sub);
    assert.equal(info.preferred_username, 'alice');
    assert.deepEqual(info.groups, ['admins']);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token!), oauthError('invalid_grant'));
    await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token!), oauthError('invalid_grant'), 'the reuse revoked the grant');
  });

  it('a code redeemed twice is invalid_grant, and the first access token stops working', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const { callback, checks } = await authorize(config);
    const tokens = await client.authorizationCodeGrant(config, callback, checks);
    const sub = tokens.claims()!.sub;
    assert.equal((await client.fetchUserInfo(config, tokens.access_token, sub)).sub, sub);
    await assert.rejects(client.authorizationCodeGrant(config, callback, checks), oauthError('invalid_grant'));
    await assert.rejects(client.fetchUserInfo(config, tokens.access_token, sub));
  });

  // last: it moves the gateway's clock
  it('a code past its lifespan (1 minute, by the gateway clock) is invalid_grant', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const { callback, checks } = await authorize(config);
    gw.clock.advance(2 * 60_000);
    await assert.rejects(client.authorizationCodeGrant(config, callback, checks), oauthError('invalid_grant'));
  });
});
