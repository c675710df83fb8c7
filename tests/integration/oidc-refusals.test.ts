/**
 * What the OpenID Connect provider refuses, seen from a real relying party (openid-client): redirect
 * URIs that are not exactly a registered one never receive a redirect, codes work once, for their
 * client, with their PKCE verifier and within their lifespan, a wrong client secret is audited for
 * Fail2Ban, and a logout hint signed by someone else logs nobody out.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, SignJWT } from 'jose';
import * as client from 'openid-client';
import { login, portal, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, codeFlowStart, discover, oauthError, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';

const REDIRECT = 'https://app.example.test/oauth2/callback';
const SECRET = 'app-secret-that-is-long-enough-123';
const PASSWORD = 'Old-Lantern-Orbit-47';


/** The gateway config of these tests: `app` (PKCE required), `other` (same redirect URI, another client). */
async function refusalConfig(): Promise<Record<string, unknown>> {
  const digest = await clientDigest(SECRET);
  const base = { client_secret: digest, redirect_uris: [REDIRECT], scopes: ['openid', 'profile', 'email', 'groups'], authorization_policy: 'one_factor', consent_mode: 'implicit' };
  return {
    access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
    identity_providers: {
      oidc: {
        jwks: [{ key: testSigningKey() }],
        clients: [
          { client_id: 'app', client_name: 'The App', ...base, require_pkce: true },
          { client_id: 'other', ...base },
        ],
      },
    },
  };
}

/** Signs in, runs the authorization request for `config`, and returns the callback URL with the code. */
async function authorize(gw: InProcessGateway, config: client.Configuration, cookie?: string, extra: Record<string, string> = {}) {
  const start = await codeFlowStart(config, REDIRECT, 'openid profile', extra);
  const { leftTo, last } = await new OidcBrowser(gw.port, cookie ?? (await login(gw, 'alice', PASSWORD))).visit(start.url.href);
  assert.ok(leftTo, `the flow never left the portal: ${last.status} ${last.body.slice(0, 300)}`);
  assert.equal(`${leftTo.origin}${leftTo.pathname}`, REDIRECT);
  return { callback: leftTo, ...start };
}

/** The authorization endpoint's answer to `redirect_uri`: an error page, never a redirect to it. */
async function assertNoRedirectTo(gw: InProcessGateway, clientId: string, redirectUri: string, cookie: string): Promise<void> {
  const url = new URL('https://auth.example.test/api/oidc/authorization');
  url.search = new URLSearchParams({ client_id: clientId, redirect_uri: redirectUri, response_type: 'code', scope: 'openid', state: 'st-123456789', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }).toString();
  const browser = new OidcBrowser(gw.port, cookie);
  const { leftTo, last } = await browser.visit(url.href);
  assert.equal(leftTo, null, `redirected off the portal to ${leftTo?.href}`);
  assert.equal(last.status, 400);
  assert.equal(last.headers.location, undefined);
  assert.match(String(last.headers['content-type']), /text\/html/);
  assert.match(last.body, /redirect_uri/);
  for (const seen of browser.seen) assert.ok(!String(seen.headers.location ?? '').includes(new URL(redirectUri).host), 'no Location towards the unregistered URI');
}

describe('OpenID Connect: refusals', () => {
  let gw: InProcessGateway;
  let cookie: string;
  before(async () => {
    gw = await startInProcessGateway({ users: { alice: { password: PASSWORD, email: 'alice@example.test' } }, config: await refusalConfig() });
    cookie = await login(gw, 'alice', PASSWORD);
  });
  after(() => gw?.close());

  it('a redirect URI that is not registered gets an error page, not a redirect', async () => {
    await assertNoRedirectTo(gw, 'app', 'https://evil.example.net/oauth2/callback', cookie);
  });
  it('a registered redirect URI with user info (user@host) is refused', async () => {
    await assertNoRedirectTo(gw, 'app', 'https://evil.example.net@app.example.test/oauth2/callback', cookie);
    await assertNoRedirectTo(gw, 'app', 'https://app.example.test@evil.example.net/oauth2/callback', cookie);
  });
  it('a registered redirect URI on another port is refused', async () => {
    await assertNoRedirectTo(gw, 'app', 'https://app.example.test:8443/oauth2/callback', cookie);
  });
  it('a registered redirect URI with a trailing slash is refused', async () => {
    await assertNoRedirectTo(gw, 'app', `${REDIRECT}/`, cookie);
  });
  it('a registered redirect URI with its path in another case is refused', async () => {
    await assertNoRedirectTo(gw, 'app', 'https://app.example.test/OAuth2/Callback', cookie);
  });

  it('require_pkce: an authorization request without a code challenge is refused (to the registered redirect URI)', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', state: 'st-123456789' });
    const { leftTo } = await new OidcBrowser(gw.port, cookie).visit(url.href);
    assert.ok(leftTo);
    assert.equal(leftTo.searchParams.get('error'), 'invalid_request');
    assert.equal(leftTo.searchParams.get('code'), null);
  });

  it('minimum_parameter_entropy (8 by default): a state or nonce of 7 characters is refused with invalid_request, 8 are accepted', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const challenge = { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };
    for (const [name, params] of [['state', { state: 'abcdefg' }], ['nonce', { state: 'st-123456789', nonce: 'abcdefg' }]] as const) {
      const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', ...challenge, ...params });
      const { leftTo } = await new OidcBrowser(gw.port, cookie).visit(url.href);
      assert.ok(leftTo, name);
      assert.equal(leftTo.searchParams.get('error'), 'invalid_request', name);
      assert.match(leftTo.searchParams.get('error_description') ?? '', new RegExp(`${name} parameter has insufficient entropy`), name);
      assert.equal(leftTo.searchParams.get('code'), null, name);
    }
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', ...challenge, state: 'abcdefgh', nonce: 'abcdefgh' });
    const { leftTo } = await new OidcBrowser(gw.port, cookie).visit(url.href);
    assert.ok(leftTo?.searchParams.get('code'), String(leftTo?.href));
  });

  it('a code redeemed without its PKCE verifier is invalid_grant', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const { callback, state } = await authorize(gw, config, cookie);
    await assert.rejects(client.authorizationCodeGrant(config, callback, { expectedState: state }), oauthError('invalid_grant'));
  });

  it('a code redeemed with a wrong PKCE verifier is invalid_grant', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const { callback, state } = await authorize(gw, config, cookie);
    await assert.rejects(client.authorizationCodeGrant(config, callback, { expectedState: state, pkceCodeVerifier: client.randomPKCECodeVerifier() }), oauthError('invalid_grant'));
  });

  it('a code redeemed twice is invalid_grant, and the access token of the first redemption stops working', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const { callback, state, nonce, verifier } = await authorize(gw, config, cookie);
    const checks = { expectedState: state, expectedNonce: nonce, pkceCodeVerifier: verifier };
    const tokens = await client.authorizationCodeGrant(config, callback, checks);
    const sub = tokens.claims()!.sub;
    assert.equal((await client.fetchUserInfo(config, tokens.access_token, sub)).sub, sub);
    await assert.rejects(client.authorizationCodeGrant(config, callback, checks), oauthError('invalid_grant'));
    await assert.rejects(client.fetchUserInfo(config, tokens.access_token, sub), (error: { status?: number; cause?: unknown }) => {
      assert.equal(error.status, 401);
      return true;
    });
  });

  it('a code issued to one client and redeemed by another is invalid_grant', async () => {
    const { callback, state, verifier } = await authorize(gw, await discover(gw.port, 'app', SECRET), cookie);
    const other = await discover(gw.port, 'other', SECRET);
    await assert.rejects(client.authorizationCodeGrant(other, callback, { expectedState: state, pkceCodeVerifier: verifier }), oauthError('invalid_grant'));
  });

  it('a code redeemed with another redirect_uri than it was issued for is invalid_grant', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const { callback, state, verifier } = await authorize(gw, config, cookie);
    const elsewhere = new URL(callback);
    elsewhere.pathname = '/oauth2/other-callback';
    await assert.rejects(client.authorizationCodeGrant(config, elsewhere, { expectedState: state, pkceCodeVerifier: verifier }), oauthError('invalid_grant'));
  });

  it('a wrong client secret is invalid_client, and audited as a failure Fail2Ban reads', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const { callback, state, verifier } = await authorize(gw, config, cookie);
    const wrong = await discover(gw.port, 'app', 'not-the-secret-of-the-app-at-all');
    await assert.rejects(client.authorizationCodeGrant(wrong, callback, { expectedState: state, pkceCodeVerifier: verifier }), oauthError('invalid_client'));
    assert.match(gw.logText(), /gatehouse-auth: authentication failure; rhost=\S+ user=app method=oidc-client reason=/);
  });

  it('an id_token_hint signed by another issuer at end-session gets an error page, and the session lives on', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ sub: 'someone' })
      .setProtectedHeader({ alg: 'RS256', kid: 'forged' })
      .setIssuer('https://auth.example.test')
      .setAudience('app')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const browser = new OidcBrowser(gw.port, cookie);
    const { leftTo, last } = await browser.visit(`https://auth.example.test/api/oidc/end-session?id_token_hint=${forged}&post_logout_redirect_uri=${encodeURIComponent(REDIRECT)}`);
    assert.equal(leftTo, null);
    assert.equal(last.status, 400);
    assert.match(last.body, /invalid_request/);
    assert.doesNotMatch(last.body, /<form/, 'no logout confirmation');
    const state = await portal(gw, '/api/state', { headers: { cookie, accept: 'application/json' } });
    assert.equal(state.json<{ data: { authentication_level: number } }>().data.authentication_level, 1, 'still signed in');
  });

  // last: it moves the gateway's clock
  it('a code redeemed after its lifespan (1 minute) is invalid_grant', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const { callback, state, verifier } = await authorize(gw, config, cookie);
    gw.clock.advance(2 * 60_000);
    await assert.rejects(client.authorizationCodeGrant(config, callback, { expectedState: state, pkceCodeVerifier: verifier }), oauthError('invalid_grant'));
  });
});
