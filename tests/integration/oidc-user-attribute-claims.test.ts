/**
 * `definitions.user_attributes` in OpenID Connect claims, as Authelia's Nextcloud guide configures
 * them (a custom scope's claim read through the client's claims policy), and `definitions.network`
 * names in a client's authorization policy.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { readFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { writeFileAtomic } from '../../lib/fs-atomic.ts';
import { login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, codeFlowStart, discover, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';

const REDIRECT = 'https://app.example.test/oauth2/callback';
const SECRET = 'app-secret-that-is-long-enough-123';
const PASSWORD = 'Old-Lantern-Orbit-47';

describe('OpenID Connect: claims from definitions.user_attributes, policies naming definitions.network', () => {
  let gw: InProcessGateway;
  before(async () => {
    const confidential = async (client_id: string, extra: Record<string, unknown>) => ({
      client_id, client_secret: await clientDigest(SECRET), redirect_uris: [REDIRECT], consent_mode: 'implicit', authorization_policy: 'one_factor', ...extra,
    });
    gw = await startInProcessGateway({
      users: {
        alice: { password: PASSWORD, email: 'alice@example.test', groups: ['nextcloud-admins', 'staff'] },
        bob: { password: PASSWORD, email: 'bob@example.test', groups: ['staff'] },
      },
      config: {
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
        definitions: {
          network: { here: ['127.0.0.0/8', '::1'], elsewhere: '192.0.2.0/24' },
          user_attributes: {
            is_nextcloud_admin: { expression: '"nextcloud-admins" in groups' },
            quota: { expression: '"nextcloud-admins" in groups ? "50 GB" : "5 GB"' },
            handle: { expression: 'email.split("@")[0] + "-" + team' },
          },
        },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            claims_policies: {
              nextcloud_userinfo: {
                id_token: ['is_nextcloud_admin'],
                custom_claims: { is_nextcloud_admin: {}, nextcloud_quota: { attribute: 'quota' }, handle: {} },
              },
            },
            scopes: { nextcloud_userinfo: { claims: ['is_nextcloud_admin', 'nextcloud_quota', 'handle'] } },
            authorization_policies: {
              from_here: { default_policy: 'deny', rules: [{ policy: 'one_factor', networks: ['here'] }] },
              from_elsewhere: { default_policy: 'deny', rules: [{ policy: 'one_factor', networks: ['elsewhere'] }] },
            },
            clients: [
              await confidential('nextcloud', { claims_policy: 'nextcloud_userinfo', scopes: ['openid', 'profile', 'email', 'groups', 'nextcloud_userinfo'], authorization_policy: 'from_here' }),
              await confidential('far', { authorization_policy: 'from_elsewhere' }),
            ],
          },
        },
      },
    });
    // a users-file extra attribute the expressions may read by name
    const file = parse(await readFile(gw.usersPath, 'utf8')) as { users: Record<string, Record<string, unknown>> };
    file.users.alice!.extra = { team: 'blue' };
    await writeFileAtomic(gw.usersPath, stringify(file), 0o600);
    assert.equal((await gw.gateway.users.reload!()).status, 'loaded');
  });
  after(() => gw?.close());

  async function signIn(clientId: string, username: string, scope: string) {
    const config = await discover(gw.port, clientId, SECRET);
    const browser = new OidcBrowser(gw.port, await login(gw, username, PASSWORD));
    const start = await codeFlowStart(config, REDIRECT, scope);
    const { leftTo, last } = await browser.visit(start.url.href);
    return { config, start, leftTo, last };
  }

  async function tokensFor(clientId: string, username: string, scope: string) {
    const { config, start, leftTo, last } = await signIn(clientId, username, scope);
    assert.ok(leftTo && leftTo.searchParams.get('code'), `no code: ${last.status} ${last.headers.location ?? ''} ${last.body.slice(0, 300)}`);
    const tokens = await client.authorizationCodeGrant(config, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    const claims = tokens.claims()!;
    return { claims, info: await client.fetchUserInfo(config, tokens.access_token, claims.sub) };
  }

  it("the custom scope's claims carry each user's computed attributes", async () => {
    const alice = await tokensFor('nextcloud', 'alice', 'openid profile email groups nextcloud_userinfo');
    assert.equal(alice.info.is_nextcloud_admin, true);
    assert.equal(alice.info.nextcloud_quota, '50 GB', 'custom_claims maps the claim to the attribute it names');
    assert.equal(alice.info.handle, 'alice-blue', "an expression reads the users file's extra attributes");
    assert.equal(alice.claims.is_nextcloud_admin, true, "the claims policy's id_token puts it in the ID token");
    const bob = await tokensFor('nextcloud', 'bob', 'openid profile email groups nextcloud_userinfo');
    assert.equal(bob.info.is_nextcloud_admin, false);
    assert.equal(bob.info.nextcloud_quota, '5 GB');
    assert.equal(bob.info.handle, undefined, 'an expression that fails for a user (bob has no team) leaves the claim out');
  });

  it('the claims stay out when the custom scope is not granted', async () => {
    const { info, claims } = await tokensFor('nextcloud', 'alice', 'openid profile');
    assert.equal(info.is_nextcloud_admin, undefined);
    assert.equal(info.nextcloud_quota, undefined);
    assert.equal(claims.is_nextcloud_admin, undefined);
  });

  it('an authorization policy rule naming a network applies to clients in it, and only to them', async () => {
    // this test's browser connects from 127.0.0.1: inside `here` (nextcloud's codes above), outside `elsewhere`
    const far = await signIn('far', 'alice', 'openid');
    assert.equal(far.leftTo?.searchParams.get('code') ?? null, null, `the policy's default deny should have refused: ${far.last.status} ${far.leftTo?.href ?? ''}`);
    assert.ok(gw.logText().includes('oidc authorization refused'), 'refused by the authorization policy, not by anything else');
  });
});
