/**
 * An RP-initiated logout the user confirms revokes every grant of the provider session, including the
 * offline_access ones oidc-provider itself keeps; those were deleted from storage without the
 * `grant.revoked` announcement, so forward auth's bearer cache (oidc/bearer.ts) kept honouring their
 * access tokens on this very instance for up to its cache time after the user signed out.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { askAuthz, login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, discover, ISSUER, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';
import { signInTo } from '../helpers/oidc-logout.ts';

const PASSWORD = 'Old-Lantern-Orbit-47';
const REDIRECT = 'https://app.example.test/oauth2/callback';
const SECRET = 'app-secret-that-is-long-enough-123';
const BEARER_SCOPE = 'authelia.bearer.authz';

describe('a confirmed RP-initiated logout and the bearer cache', () => {
  let gw: InProcessGateway;
  let app: client.Configuration;

  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD, email: 'alice@example.test', displayname: 'Alice', groups: ['admins'] } },
      config: {
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', subject: 'group:admins', policy: 'one_factor' }] },
        server: { endpoints: { authz: { 'forward-auth': { implementation: 'ForwardAuth', authn_strategies: [{ name: 'HeaderAuthorization', schemes: ['Bearer'] }, { name: 'CookieSession' }] } } } },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            clients: [{
              client_id: 'app',
              client_secret: await clientDigest(SECRET),
              redirect_uris: [REDIRECT],
              post_logout_redirect_uris: ['https://app.example.test/'],
              scopes: ['openid', 'offline_access', BEARER_SCOPE],
              audience: ['https://app.example.test'],
              grant_types: ['authorization_code', 'refresh_token'],
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

  it("refuses the session's offline_access token at forward auth right after the logout", async () => {
    const browser = new OidcBrowser(gw.port, await login(gw, 'alice', PASSWORD));
    const { tokens, idToken } = await signInTo(browser, app, REDIRECT, `openid offline_access ${BEARER_SCOPE}`);
    assert.ok(tokens.refresh_token, 'an offline_access grant');
    const bearer = { headers: { authorization: `Bearer ${tokens.access_token}` } };
    assert.equal((await askAuthz(gw, 'forward-auth', 'https://app.example.test/', bearer)).status, 200);

    const url = client.buildEndSessionUrl(app, { id_token_hint: idToken });
    const { last: page } = await browser.visit(url.href);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.body)?.[1];
    assert.ok(xsrf, page.body.slice(0, 300));
    await browser.visit(`${ISSUER}/api/oidc/end-session/confirm`, { xsrf, logout: 'yes' });
    await assert.rejects(client.refreshTokenGrant(app, tokens.refresh_token), 'the grant is gone from storage');

    assert.equal((await askAuthz(gw, 'forward-auth', 'https://app.example.test/', bearer)).status, 401);
  });
});
