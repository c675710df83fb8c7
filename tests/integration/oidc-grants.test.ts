/**
 * The OpenID Connect provider's other grants and endpoints, driven by openid-client: pushed
 * authorization requests, introspection, revocation, client credentials, a reused refresh token
 * revoking the whole grant, and client_secret_post.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, codeFlowStart, discover, oauthError, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';

const REDIRECT = 'https://app.example.test/oauth2/callback';
const SECRET = 'app-secret-that-is-long-enough-123';
const PASSWORD = 'Old-Lantern-Orbit-47';
const SCOPE = 'openid profile email groups offline_access';


describe('OpenID Connect: PAR, introspection, revocation, client credentials, refresh reuse', () => {
  let gw: InProcessGateway;
  let cookie: string;
  before(async () => {
    const digest = await clientDigest(SECRET);
    const codeClient = {
      client_secret: digest,
      redirect_uris: [REDIRECT],
      scopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
      grant_types: ['authorization_code', 'refresh_token'],
      authorization_policy: 'one_factor',
      consent_mode: 'implicit',
    };
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD, email: 'alice@example.test', groups: ['admins'] } },
      config: {
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            scopes: { 'backup:write': { claims: [] } },
            clients: [
              { client_id: 'app', ...codeClient, require_pkce: true },
              { client_id: 'poster', ...codeClient, token_endpoint_auth_method: 'client_secret_post' },
              { client_id: 'svc', client_secret: digest, grant_types: ['client_credentials'], scopes: ['groups', 'backup:write'], response_types: [], authorization_policy: 'one_factor' },
            ],
          },
        },
      },
    });
    cookie = await login(gw, 'alice', PASSWORD);
  });
  after(() => gw?.close());

  /** Runs the code flow for `config` (optionally from a ready authorization URL) and returns the tokens. */
  async function codeFlow(config: client.Configuration, url?: URL, verifier?: string) {
    const start = url ? null : await codeFlowStart(config, REDIRECT, SCOPE);
    const { leftTo, last } = await new OidcBrowser(gw.port, cookie).visit((url ?? start!.url).href);
    assert.ok(leftTo, `the flow never left the portal: ${last.status} ${last.body.slice(0, 300)}`);
    assert.equal(`${leftTo.origin}${leftTo.pathname}`, REDIRECT);
    return client.authorizationCodeGrant(config, leftTo, { pkceCodeVerifier: verifier ?? start!.verifier, ...(start ? { expectedState: start.state, expectedNonce: start.nonce } : { expectedState: client.skipStateCheck }) });
  }

  it('a pushed authorization request gives a request_uri the authorization endpoint completes', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const verifier = client.randomPKCECodeVerifier();
    const url = await client.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: REDIRECT,
      scope: SCOPE,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    assert.match(url.searchParams.get('request_uri') ?? '', /^urn:ietf:params:oauth:request_uri:/);
    assert.equal(url.searchParams.get('redirect_uri'), null, 'the parameters travelled by the back channel');
    const tokens = await codeFlow(config, url, verifier);
    assert.equal(tokens.claims()!.aud, 'app');
  });

  it('introspection says active, then inactive once the access token is revoked', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const tokens = await codeFlow(config);
    const active = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(active.active, true);
    assert.equal(active.client_id, 'app');
    assert.equal(typeof active.sub, 'string');
    // another client learns nothing about it, and may not revoke it
    const other = await discover(gw.port, 'poster', SECRET, client.ClientSecretPost(SECRET));
    assert.deepEqual(await client.tokenIntrospection(other, tokens.access_token), { active: false });
    await assert.rejects(client.tokenRevocation(other, tokens.access_token), oauthError('invalid_request'));
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, true);
    await client.tokenRevocation(config, tokens.access_token);
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
    await assert.rejects(client.fetchUserInfo(config, tokens.access_token, client.skipSubjectCheck));
  });

  it('a revoked refresh token is refused at the token endpoint', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const tokens = await codeFlow(config);
    assert.ok(tokens.refresh_token);
    assert.equal((await client.tokenIntrospection(config, tokens.refresh_token)).active, true);
    await client.tokenRevocation(config, tokens.refresh_token, { token_type_hint: 'refresh_token' });
    assert.equal((await client.tokenIntrospection(config, tokens.refresh_token)).active, false);
    await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), oauthError('invalid_grant'));
  });

  it('client credentials: a token with the allowed scopes, none beyond them', async () => {
    const config = await discover(gw.port, 'svc', SECRET);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'groups backup:write' });
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(tokens.scope, 'groups backup:write');
    assert.equal(tokens.refresh_token, undefined);
    assert.equal(tokens.id_token, undefined);
    const seen = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(seen.active, true);
    assert.equal(seen.client_id, 'svc');
    assert.equal(seen.sub, undefined, 'no user behind a client credentials token');
    await assert.rejects(client.fetchUserInfo(config, tokens.access_token, client.skipSubjectCheck), 'no userinfo without a user');
    await assert.rejects(client.clientCredentialsGrant(config, { scope: 'groups profile' }), oauthError('invalid_scope'));
    // a code-flow client may not use the grant (oidc-provider answers invalid_request, before it authenticates the client)
    await assert.rejects(client.clientCredentialsGrant(await discover(gw.port, 'app', SECRET), { scope: 'groups' }), oauthError('invalid_request'));
  });

  it('a refresh token presented again revokes the grant: the rotated refresh token and its access token stop working', async () => {
    const config = await discover(gw.port, 'app', SECRET);
    const first = await codeFlow(config);
    const second = await client.refreshTokenGrant(config, first.refresh_token!);
    assert.ok(second.refresh_token && second.refresh_token !== first.refresh_token);
    const sub = first.claims()!.sub;
    assert.equal((await client.fetchUserInfo(config, second.access_token, sub)).sub, sub, 'the new access token works before the reuse');
    // someone replays the old refresh token (stolen, or a client bug)
    await assert.rejects(client.refreshTokenGrant(config, first.refresh_token!), oauthError('invalid_grant'));
    await assert.rejects(client.refreshTokenGrant(config, second.refresh_token), oauthError('invalid_grant'));
    assert.equal((await client.tokenIntrospection(config, second.access_token)).active, false);
    await assert.rejects(client.fetchUserInfo(config, second.access_token, sub));
    await assert.rejects(client.fetchUserInfo(config, first.access_token, sub));
  });

  it('client_secret_post: the secret in the body is accepted, a wrong one is invalid_client', async () => {
    const config = await discover(gw.port, 'poster', SECRET, client.ClientSecretPost(SECRET));
    const tokens = await codeFlow(config);
    assert.equal(tokens.claims()!.aud, 'poster');
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    assert.ok(refreshed.access_token);
    const wrong = await discover(gw.port, 'poster', SECRET, client.ClientSecretPost(`${SECRET}x`));
    await assert.rejects(client.refreshTokenGrant(wrong, refreshed.refresh_token!), oauthError('invalid_client'));
    // oidc-provider treats client_secret_basic and client_secret_post as one method: the same secret in
    // the Basic header is accepted too (the secret is as exposed either way)
    const basic = await discover(gw.port, 'poster', SECRET, client.ClientSecretBasic(SECRET));
    assert.ok((await client.refreshTokenGrant(basic, refreshed.refresh_token!)).access_token);
  });
});
