/**
 * A client's `scopes` are what the operator lets it read, and the consent page lists the scopes asked
 * for. The `claims` request parameter named claims one by one and every name was granted: a client
 * allowed only `openid` read the user's e-mail, groups and name (in the ID token and at userinfo), and a
 * consent page that said "openid" released them. Now a claim asked for by name is released only when a
 * granted scope releases it; the rest are refused (not asked about again).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, codeFlowStart, discover, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';

const PASSWORD = 'Old-Lantern-Orbit-47';
const REDIRECT = 'https://app.example.test/oauth2/callback';
const SECRET = 'app-secret-that-is-long-enough-123';
const CLAIMS = JSON.stringify({
  id_token: { email: null, groups: null, preferred_username: null },
  userinfo: { email: null, groups: null, name: null },
});

describe('the claims parameter', () => {
  let gw: InProcessGateway;
  let app: client.Configuration;

  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD, email: 'alice@example.test', displayname: 'Alice', groups: ['admins'] } },
      config: {
        access_control: { default_policy: 'one_factor' },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            clients: [{ client_id: 'app', client_secret: await clientDigest(SECRET), redirect_uris: [REDIRECT], scopes: ['openid', 'profile'], grant_types: ['authorization_code'], authorization_policy: 'one_factor', consent_mode: 'implicit' }],
          },
        },
      },
    });
    app = await discover(gw.port, 'app', SECRET);
  });
  after(() => gw?.close());

  async function tokensFor(scope: string) {
    const browser = new OidcBrowser(gw.port, await login(gw, 'alice', PASSWORD));
    const start = await codeFlowStart(app, REDIRECT, scope, { claims: CLAIMS });
    const { leftTo, last } = await browser.visit(start.url.href);
    assert.ok(leftTo && leftTo.searchParams.get('code'), `${last.status} ${String(leftTo)}`);
    const tokens = await client.authorizationCodeGrant(app, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    const idToken = tokens.claims()!;
    return { idToken, userinfo: await client.fetchUserInfo(app, tokens.access_token, idToken.sub) };
  }

  it('releases nothing the client may not read, and nothing beyond the scopes asked for', async () => {
    const { idToken, userinfo } = await tokensFor('openid');
    for (const claim of ['email', 'groups', 'preferred_username']) assert.equal(idToken[claim], undefined, `ID token ${claim}`);
    for (const claim of ['email', 'groups', 'name']) assert.equal(userinfo[claim], undefined, `userinfo ${claim}`);
  });

  it('still puts a granted scope claim in the ID token when asked for by name', async () => {
    const { idToken, userinfo } = await tokensFor('openid profile');
    assert.equal(idToken.preferred_username, 'alice');
    assert.equal(userinfo.name, 'Alice');
    assert.equal(idToken.email, undefined);
    assert.equal(idToken.groups, undefined);
    assert.equal(userinfo.groups, undefined);
  });
});
