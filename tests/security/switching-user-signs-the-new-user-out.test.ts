/**
 * A shared browser: alice signed in to an app (a provider session for her), then bob signs in to the
 * portal in the same browser and opens the same app. oidc-provider ends alice's provider session first
 * (an automatic logout confirmation, posted to /end-session/confirm); that confirmation ended the
 * gateway session of the request, which is bob's: bob was signed out of the portal by signing in to an
 * app. And the sign-in then failed ("interaction session not found"): revoking alice's grant deleted
 * every row carrying it, the interaction in flight included.
 * The gateway session ends only with a provider session of its own user; a revoked grant takes its
 * codes and tokens, never the interaction.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { askAuthz, login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, codeFlowStart, discover, ISSUER, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';
import { signInTo } from '../helpers/oidc-logout.ts';

const PASSWORD = 'Old-Lantern-Orbit-47';
const REDIRECT = 'https://app.example.test/oauth2/callback';
const SECRET = 'app-secret-that-is-long-enough-123';

describe('switching user in a browser with a provider session', () => {
  let gw: InProcessGateway;
  let app: client.Configuration;

  before(async () => {
    gw = await startInProcessGateway({
      users: {
        alice: { password: PASSWORD, email: 'alice@example.test', displayname: 'Alice', groups: ['staff'] },
        bob: { password: PASSWORD, email: 'bob@example.test', displayname: 'Bob', groups: ['staff'] },
      },
      config: {
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', subject: 'group:staff', policy: 'one_factor' }] },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            clients: [{
              client_id: 'app',
              client_secret: await clientDigest(SECRET),
              redirect_uris: [REDIRECT],
              scopes: ['openid', 'profile'],
              grant_types: ['authorization_code'],
              authorization_policy: 'one_factor',
              consent_mode: 'implicit',
            }],
          },
        },
      },
    });
    app = await discover(gw.port, 'app', SECRET);
  });
  after(() => gw?.close());

  it("bob gets bob's code and keeps his gateway session", async () => {
    const browser = new OidcBrowser(gw.port, await login(gw, 'alice', PASSWORD));
    const alice = await signInTo(browser, app, REDIRECT, 'openid profile');

    const bobCookie = await login(gw, 'bob', PASSWORD);
    const [name, value] = bobCookie.split('=');
    browser.jar.set(name!, value!);
    const start = await codeFlowStart(app, REDIRECT, 'openid profile');
    let { leftTo, last } = await browser.visit(start.url.href);
    assert.equal(leftTo, null, 'oidc-provider first ends the provider session of another account');
    // its self-posting form (a browser submits it at once)
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(last.body)?.[1];
    assert.ok(xsrf, `${last.status} ${last.body.slice(0, 300)}`);
    ({ leftTo, last } = await browser.visit(`${ISSUER}/api/oidc/end-session/confirm`, { xsrf, logout: 'yes' }));

    const bob = await askAuthz(gw, 'forward-auth', 'https://app.example.test/', { cookie: bobCookie });
    assert.equal(bob.status, 200, "ending alice's provider session leaves bob signed in to the portal");
    assert.equal(bob.headers['remote-user'], 'bob');

    assert.ok(leftTo, `the authorization resumes: ${last.status} ${last.body.slice(0, 300)}`);
    const tokens = await client.authorizationCodeGrant(app, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    assert.notEqual(tokens.claims()!.sub, alice.claims.sub, "bob's code is bob's");
  });
});
