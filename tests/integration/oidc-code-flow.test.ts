/**
 * The OpenID Connect provider driven by a real relying party (openid-client): discovery, the
 * authorization code flow with PKCE through the portal's sign-in, the ID token's signature and claims,
 * userinfo, and refresh with rotation.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { request } from '../helpers/http.ts';
import { readFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { writeFileAtomic } from '../../lib/fs-atomic.ts';
import { login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, codeFlowStart, discover, ISSUER, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';

const REDIRECT = 'https://app.example.test/oauth2/callback';
const SECRET = 'app-secret-that-is-long-enough-123';

describe('OpenID Connect: authorization code flow with openid-client', () => {
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: 'Old-Lantern-Orbit-47', email: 'alice@example.test', displayname: 'Alice Liddell', groups: ['admins'] } },
      config: {
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            claims_policies: { in_id_token: { id_token: ['preferred_username', 'email', 'groups'] } },
            clients: [
              {
                client_id: 'signed',
                client_secret: await clientDigest(SECRET),
                redirect_uris: [REDIRECT],
                authorization_policy: 'one_factor',
                consent_mode: 'implicit',
                userinfo_signed_response_alg: 'RS256',
              },
              {
                client_id: 'legacy',
                client_secret: await clientDigest(SECRET),
                redirect_uris: [REDIRECT],
                authorization_policy: 'one_factor',
                consent_mode: 'implicit',
                claims_policy: 'in_id_token',
              },
              {
                client_id: 'app',
                client_name: 'The App',
                client_secret: await clientDigest(SECRET),
                redirect_uris: [REDIRECT],
                scopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
                grant_types: ['authorization_code', 'refresh_token'],
                authorization_policy: 'one_factor',
                consent_mode: 'implicit',
              },
            ],
          },
        },
      },
    });
    // Authelia's profile attributes in the users file become claims of the same name
    const file = parse(await readFile(gw.usersPath, 'utf8')) as { users: Record<string, Record<string, unknown>> };
    Object.assign(file.users.alice!, { given_name: 'Alice', family_name: 'Liddell', locale: 'en-GB', phone_number: '+44 20 7946 0000' });
    await writeFileAtomic(gw.usersPath, stringify(file), 0o600);
    assert.equal((await gw.gateway.users.reload!()).status, 'loaded');
  });
  after(() => gw?.close());

  it('discovery names the issuer and the endpoints under /api/oidc/', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, ISSUER);
    assert.equal(meta.token_endpoint, `${ISSUER}/api/oidc/token`);
    assert.equal(meta.jwks_uri, `${ISSUER}/jwks.json`);
    assert.equal(meta.end_session_endpoint, `${ISSUER}/api/oidc/end-session`);
  });

  it('a signed-in user gets a code, and the client tokens with the claims', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const cookie = await login(gw, 'alice', 'Old-Lantern-Orbit-47');
    const browser = new OidcBrowser(gw.port, cookie);
    const start = await codeFlowStart(config, REDIRECT, 'openid profile email groups offline_access');
    const { leftTo, last } = await browser.visit(start.url.href);
    assert.ok(leftTo, `the flow never left the portal: ${last.status} ${last.headers.location ?? ''} ${last.body.slice(0, 300)}`);
    assert.equal(`${leftTo.origin}${leftTo.pathname}`, REDIRECT);
    const tokens = await client.authorizationCodeGrant(config, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    const claims = tokens.claims()!;
    // the signature, checked independently against the gateway's published keys
    const jwks = await request(`http://auth.example.test:${gw.port}/jwks.json`, { headers: { 'x-forwarded-proto': 'https' } });
    const verified = await jwtVerify(tokens.id_token!, createLocalJWKSet(jwks.json()), { issuer: ISSUER, audience: 'app', algorithms: ['RS256'] });
    assert.equal(verified.payload.sub, claims.sub);
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.aud, 'app');
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(claims.acr, 'one_factor');
    assert.ok(typeof claims.sub === 'string' && claims.sub.length > 20 && claims.sub !== 'alice');
    assert.ok(tokens.refresh_token, 'offline_access with the refresh_token grant gives a refresh token');
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.preferred_username, 'alice');
    assert.equal(info.given_name, 'Alice');
    assert.equal(info.family_name, 'Liddell');
    assert.equal(info.locale, 'en-GB');
    assert.equal(info.phone_number, undefined, 'the phone scope was not asked for');
    assert.equal(info.email, 'alice@example.test');
    assert.deepEqual(info.groups, ['admins']);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    // a refresh token works once
    await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token!), (error: { error?: string }) => error.error === 'invalid_grant');
  });

  it("a client's claims policy puts the claims its scopes release in the ID token too", async () => {
    const config = await discover(gw.port, 'legacy', SECRET);
    const browser = new OidcBrowser(gw.port, await login(gw, 'alice', 'Old-Lantern-Orbit-47'));
    // profile and groups are asked for, email is not: the policy's email stays out
    const start = await codeFlowStart(config, REDIRECT, 'openid profile groups');
    const { leftTo } = await browser.visit(start.url.href);
    assert.ok(leftTo);
    const tokens = await client.authorizationCodeGrant(config, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    const claims = tokens.claims()!;
    assert.equal(claims.preferred_username, 'alice');
    assert.deepEqual(claims.groups, ['admins']);
    assert.equal(claims.email, undefined);
    assert.equal(claims.name, undefined, 'a claim the policy does not name stays in userinfo');
  });

  it('prompt=none: answered silently for the gateway session that signed in to the app, login_required for anyone else', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const browser = new OidcBrowser(gw.port, await login(gw, 'alice', 'Old-Lantern-Orbit-47'));
    const first = await codeFlowStart(config, REDIRECT);
    assert.ok((await browser.visit(first.url.href)).leftTo?.searchParams.get('code'));

    const silent = await codeFlowStart(config, REDIRECT, 'openid profile', { prompt: 'none' });
    const again = await browser.visit(silent.url.href);
    assert.ok(again.leftTo?.searchParams.get('code'), `no code: ${again.leftTo?.href ?? again.last.status}`);
    assert.ok(!browser.seen.slice(-3).some((answer) => String(answer.headers.location ?? '').includes('/oidc/interaction/')), 'no page in between');

    // a browser with the provider's cookies but another gateway session (bob's would be the same): refused
    const stranger = new OidcBrowser(gw.port, await login(gw, 'alice', 'Old-Lantern-Orbit-47'));
    for (const name of ['gatehouse_oidc_session', 'gatehouse_oidc_session.sig']) stranger.jar.set(name, browser.jar.get(name)!);
    const refused = await stranger.visit((await codeFlowStart(config, REDIRECT, 'openid', { prompt: 'none' })).url.href);
    assert.equal(refused.leftTo?.searchParams.get('error'), 'login_required');

    // signed out of the portal: the same browser is refused too
    await browser.visit('/logout', {});
    const after = await browser.visit((await codeFlowStart(config, REDIRECT, 'openid', { prompt: 'none' })).url.href);
    assert.equal(after.leftTo?.searchParams.get('error'), 'login_required');
    assert.equal(after.leftTo?.searchParams.get('code'), null);
  });

  it('userinfo_signed_response_alg: userinfo answers a JWT signed with the provider key', async () => {
    const config = await discover(gw.port, 'signed', SECRET);
    const browser = new OidcBrowser(gw.port, await login(gw, 'alice', 'Old-Lantern-Orbit-47'));
    const start = await codeFlowStart(config, REDIRECT, 'openid profile');
    const { leftTo } = await browser.visit(start.url.href);
    assert.ok(leftTo);
    const tokens = await client.authorizationCodeGrant(config, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    const answer = await request(`http://auth.example.test:${gw.port}/api/oidc/userinfo`, { headers: { 'x-forwarded-proto': 'https', authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(answer.status, 200);
    assert.match(String(answer.headers['content-type']), /^application\/jwt/);
    const jwks = await request(`http://auth.example.test:${gw.port}/jwks.json`, { headers: { 'x-forwarded-proto': 'https' } });
    const { payload } = await jwtVerify(answer.body, createLocalJWKSet(jwks.json()), { issuer: ISSUER, audience: 'signed' });
    assert.equal(payload.preferred_username, 'alice');
    assert.equal(payload.sub, tokens.claims()!.sub);
  });
});
