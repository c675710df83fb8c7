/**
 * `prompt=login` and `max_age` ask the provider to authenticate the user again (OpenID Connect Core
 * 3.1.2.1: when it cannot, it MUST answer an error, typically login_required). The portal never signs a
 * signed-in user in again, and the interaction finished with the old sign-in: an app asking for a fresh
 * sign-in before something sensitive got a code for a session signed in long before.
 * Now such a request gets login_required unless the sign-in happened after the request (or within
 * max_age); signing in during the authorization satisfies it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, codeFlowStart, discover, ISSUER, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';

const PASSWORD = 'Old-Lantern-Orbit-47';
const REDIRECT = 'https://app.example.test/oauth2/callback';
const SECRET = 'app-secret-that-is-long-enough-123';

describe('prompt=login and max_age', () => {
  let gw: InProcessGateway;
  let app: client.Configuration;
  let signedInEarlier: string;

  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD, email: 'alice@example.test', displayname: 'Alice', groups: ['staff'] } },
      config: {
        access_control: { default_policy: 'one_factor' },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            clients: [{ client_id: 'app', client_secret: await clientDigest(SECRET), redirect_uris: [REDIRECT], scopes: ['openid'], grant_types: ['authorization_code'], authorization_policy: 'one_factor', consent_mode: 'implicit' }],
          },
        },
      },
    });
    app = await discover(gw.port, 'app', SECRET);
    // signed in two minutes ago (within the session's inactivity limit)
    gw.clock.advance(-120_000);
    signedInEarlier = await login(gw, 'alice', PASSWORD);
    gw.clock.advance(120_000);
  });
  after(() => gw?.close());

  async function authorize(extra: Record<string, string>) {
    const start = await codeFlowStart(app, REDIRECT, 'openid', extra);
    const { leftTo } = await new OidcBrowser(gw.port, signedInEarlier).visit(start.url.href);
    assert.ok(leftTo);
    return leftTo;
  }

  it('prompt=login with an earlier sign-in: login_required, no code', async () => {
    const leftTo = await authorize({ prompt: 'login' });
    assert.equal(leftTo.searchParams.get('code'), null);
    assert.equal(leftTo.searchParams.get('error'), 'login_required');
  });

  it('max_age shorter than the sign-in: login_required; longer: a code', async () => {
    const refused = await authorize({ max_age: '60' });
    assert.equal(refused.searchParams.get('code'), null);
    assert.equal(refused.searchParams.get('error'), 'login_required');
    assert.ok((await authorize({ max_age: '3600' })).searchParams.get('code'));
  });

  it('prompt=login answered by signing in during the authorization: a code', async () => {
    const start = await codeFlowStart(app, REDIRECT, 'openid', { prompt: 'login' });
    const browser = new OidcBrowser(gw.port);
    const first = await browser.visit(start.url.href);
    assert.equal(first.leftTo, null, 'not signed in: the sign-in page');
    const interaction = browser.seen.map((r) => String(r.headers.location ?? '')).find((l) => l.startsWith('/oidc/interaction/'));
    assert.ok(interaction);
    const [name, value] = (await login(gw, 'alice', PASSWORD)).split('=');
    browser.jar.set(name!, value!);
    const { leftTo } = await browser.visit(`${ISSUER}${interaction}`);
    assert.ok(leftTo && leftTo.searchParams.get('code'), String(leftTo));
    const tokens = await client.authorizationCodeGrant(app, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    assert.ok(tokens.claims()!.auth_time! >= Math.floor(Date.now() / 1000) - 5);
  });
});
