/**
 * Access tokens of the gateway's own OpenID Connect provider as forward-auth credentials
 * (`Authorization: Bearer`, where server.endpoints.authz lists the Bearer scheme, as in Authelia):
 * a script's client_credentials token is the client (`oauth2:client:` subjects), a user's token is the
 * user at the factors of their sign-in, and only for targets in the client's `audience`. Anything
 * else is a 401 with `invalid_token`, never a pass.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.ts';
import { request, type HttpResponse } from '../helpers/http.ts';
import { askAuthz, login, portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, codeFlowStart, discover, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';

const PASSWORD = 'Old-Lantern-Orbit-47';
const REDIRECT = 'https://app.example.test/oauth2/callback';
const APP_SECRET = 'app-secret-that-is-long-enough-123';
const SCRIPTS_SECRET = 'scripts-secret-that-is-long-enough-456';
const BEARER_SCOPE = 'authelia.bearer.authz';

const BEARER_STRATEGIES = [{ name: 'HeaderAuthorization', schemes: ['Basic', 'Bearer'] }, { name: 'CookieSession' }];

const ACCESS_CONTROL = {
  default_policy: 'deny',
  rules: [
    { domain: 'scripts.example.test', subject: 'oauth2:client:scripts', policy: 'one_factor' },
    { domain: 'other.example.test', subject: 'group:admins', policy: 'one_factor' },
    { domain: 'app.example.test', subject: 'group:admins', policy: 'one_factor' },
    { domain: 'secure.example.test', policy: 'two_factor' },
    { domain: 'open.example.test', policy: 'bypass' },
  ],
};

function oidcSection(appSecret: string, scriptsSecret: string) {
  return {
    jwks: [{ key: testSigningKey() }],
    clients: [
      {
        client_id: 'app',
        client_secret: appSecret,
        redirect_uris: [REDIRECT],
        scopes: ['openid', 'profile', 'email', 'groups', BEARER_SCOPE],
        audience: ['https://app.example.test/api', 'https://secure.example.test'],
        grant_types: ['authorization_code'],
        authorization_policy: 'one_factor',
        consent_mode: 'implicit',
      },
      {
        client_id: 'scripts',
        client_secret: scriptsSecret,
        scopes: [BEARER_SCOPE],
        audience: ['https://scripts.example.test', 'https://other.example.test'],
        grant_types: ['client_credentials'],
        response_types: [],
        authorization_policy: 'one_factor',
      },
    ],
  };
}

function bearer(token: string): { headers: Record<string, string> } {
  return { headers: { authorization: `Bearer ${token}` } };
}

function assertInvalidToken(response: HttpResponse): void {
  assert.equal(response.status, 401, response.body);
  assert.equal(response.headers['www-authenticate'], 'Bearer error="invalid_token"');
  assert.equal(response.headers['remote-user'], undefined);
}

describe('OpenID Connect access tokens at forward auth', () => {
  let gw: InProcessGateway;
  let scripts: client.Configuration;
  let app: client.Configuration;

  before(async () => {
    gw = await startInProcessGateway({
      users: {
        alice: { password: PASSWORD, email: 'alice@example.test', displayname: 'Alice Liddell', groups: ['admins', 'dev'] },
      },
      config: {
        access_control: ACCESS_CONTROL,
        server: {
          endpoints: {
            authz: {
              'forward-auth': { implementation: 'ForwardAuth', authn_strategies: BEARER_STRATEGIES },
              'auth-request': { implementation: 'AuthRequest', authn_strategies: BEARER_STRATEGIES },
              legacy: { implementation: 'Legacy', authn_strategies: [{ name: 'HeaderAuthorization', schemes: ['Bearer'] }, { name: 'HeaderLegacy' }, { name: 'CookieSession' }] },
            },
          },
        },
        identity_providers: { oidc: oidcSection(await clientDigest(APP_SECRET), await clientDigest(SCRIPTS_SECRET)) },
      },
    });
    scripts = await discover(gw.port, 'scripts', SCRIPTS_SECRET);
    app = await discover(gw.port, 'app', APP_SECRET);
  });
  after(() => gw?.close());

  const scriptToken = async () => (await client.clientCredentialsGrant(scripts, { scope: BEARER_SCOPE })).access_token;

  /** alice signs in to the app (one factor) and the app gets an access token with `scope`. */
  async function aliceToken(scope = `openid profile groups ${BEARER_SCOPE}`): Promise<string> {
    return (await aliceSignsIn(scope)).token;
  }

  async function aliceSignsIn(scope = `openid profile groups ${BEARER_SCOPE}`): Promise<{ token: string; cookie: string }> {
    const cookie = await login(gw, 'alice', PASSWORD);
    const browser = new OidcBrowser(gw.port, cookie);
    const start = await codeFlowStart(app, REDIRECT, scope);
    const { leftTo, last } = await browser.visit(start.url.href);
    assert.ok(leftTo, `the flow never left the portal: ${last.status} ${last.body.slice(0, 300)}`);
    const tokens = await client.authorizationCodeGrant(app, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    return { token: tokens.access_token, cookie };
  }

  describe('a client_credentials token', () => {
    it('passes a rule naming oauth2:client:scripts, on every endpoint that reads Bearer; the app is told no user', async () => {
      const token = await scriptToken();
      for (const dialect of ['forward-auth', 'auth-request', 'legacy'] as const) {
        const response = await askAuthz(gw, dialect, 'https://scripts.example.test/run', bearer(token));
        assert.equal(response.status, 200, `${dialect}: ${response.body}`);
        // as in Authelia: a client is no user, so Remote-User is empty (a client named like a user is never taken for them)
        assert.equal(response.headers['remote-user'], '');
        assert.equal(response.headers['remote-groups'], '');
      }
    });

    it('is refused (403) where the rule does not name it', async () => {
      const response = await askAuthz(gw, 'forward-auth', 'https://other.example.test/', bearer(await scriptToken()));
      assert.equal(response.status, 403, response.body);
    });

    it('is refused with invalid_token outside its client audience', async () => {
      assertInvalidToken(await askAuthz(gw, 'forward-auth', 'https://app.example.test/api/x', bearer(await scriptToken())));
    });

    it('is refused once revoked, even right after it was accepted (no cached pass)', async () => {
      const token = await scriptToken();
      assert.equal((await askAuthz(gw, 'forward-auth', 'https://scripts.example.test/run', bearer(token))).status, 200);
      await client.tokenRevocation(scripts, token);
      assertInvalidToken(await askAuthz(gw, 'forward-auth', 'https://scripts.example.test/run', bearer(token)));
    });
  });

  describe("a user's token", () => {
    it('passes for a target in its client audience as the user, with their current details', async () => {
      const response = await askAuthz(gw, 'forward-auth', 'https://app.example.test/api/items?page=2', bearer(await aliceToken()));
      assert.equal(response.status, 200, response.body);
      assert.equal(response.headers['remote-user'], 'alice');
      assert.equal(response.headers['remote-groups'], 'admins,dev');
      assert.equal(response.headers['remote-name'], 'Alice Liddell');
      assert.equal(response.headers['remote-email'], 'alice@example.test');
    });

    it('is refused with invalid_token outside its audience (another path, a look-alike path, another host)', async () => {
      const token = await aliceToken();
      assertInvalidToken(await askAuthz(gw, 'forward-auth', 'https://app.example.test/admin', bearer(token)));
      assertInvalidToken(await askAuthz(gw, 'forward-auth', 'https://app.example.test/apix', bearer(token)));
      assertInvalidToken(await askAuthz(gw, 'forward-auth', 'https://scripts.example.test/run', bearer(token)));
    });

    it('counts at the level of its sign-in: a one-factor token does not pass two_factor (asks for a stronger sign-in)', async () => {
      const response = await askAuthz(gw, 'forward-auth', 'https://secure.example.test/', bearer(await aliceToken()));
      assert.equal(response.status, 401, response.body);
      assert.match(String(response.headers['www-authenticate']), /^Bearer error="insufficient_user_authentication"/);
      assert.equal(response.headers.location, undefined);
    });

    it('stops passing as soon as the user signs out of the gateway (the sign-out revokes the grant)', async () => {
      const { token, cookie } = await aliceSignsIn();
      assert.equal((await askAuthz(gw, 'forward-auth', 'https://app.example.test/api/items', bearer(token))).status, 200);
      const out = await portal(gw, '/api/logout', { method: 'POST', json: {}, headers: { cookie, origin: PORTAL_ORIGIN } });
      assert.equal(out.status, 200, out.body);
      assertInvalidToken(await askAuthz(gw, 'forward-auth', 'https://app.example.test/api/items', bearer(token)));
    });

    it('is refused without the authelia.bearer.authz scope, even in its audience', async () => {
      assertInvalidToken(await askAuthz(gw, 'forward-auth', 'https://app.example.test/api/items', bearer(await aliceToken('openid profile groups'))));
    });
  });

  describe('tokens that are no credential', () => {
    it('a garbage, empty or unknown token is refused with invalid_token, even on a bypass rule', async () => {
      for (const value of ['Bearer not-a-token', 'Bearer ', 'bearer x y', `Bearer ${'A'.repeat(43)}`]) {
        assertInvalidToken(await askAuthz(gw, 'forward-auth', 'https://open.example.test/', { headers: { authorization: value } }));
      }
    });

    it('an expired token is refused with invalid_token', async () => {
      const token = await scriptToken();
      assert.equal((await askAuthz(gw, 'forward-auth', 'https://scripts.example.test/run', bearer(token))).status, 200);
      gw.clock.advance(3600_000 + 1000); // the default access token lifespan is one hour
      assertInvalidToken(await askAuthz(gw, 'forward-auth', 'https://scripts.example.test/run', bearer(token)));
    });
  });
});

describe('Bearer without an OpenID Connect provider', () => {
  it('a configuration listing the Bearer scheme without identity_providers.oidc does not start', async () => {
    await assert.rejects(
      startInProcessGateway({
        config: { access_control: ACCESS_CONTROL, server: { endpoints: { authz: { 'forward-auth': { implementation: 'ForwardAuth', authn_strategies: BEARER_STRATEGIES } } } } },
      }),
      /identity_providers\.oidc/,
    );
  });

  it('the default endpoints do not read Bearer (as in Authelia): the request is anonymous and is asked to sign in, never passed', async () => {
    const gw = await startInProcessGateway({ config: { access_control: ACCESS_CONTROL } });
    try {
      const response = await askAuthz(gw, 'forward-auth', 'https://scripts.example.test/run', bearer('A'.repeat(43)));
      assert.equal(response.status, 401, response.body);
      assert.equal(response.headers['remote-user'], undefined);
    } finally {
      await gw.close();
    }
  });
});

describe('the embedded proxy reads Bearer where forward-auth does', () => {
  let echo: EchoUpstream;
  let gw: InProcessGateway;
  let scripts: client.Configuration;
  before(async () => {
    echo = await startEchoUpstream();
    gw = await startInProcessGateway({
      config: {
        access_control: ACCESS_CONTROL,
        server: {
          upstreams: { 'scripts.example.test': echo.url },
          endpoints: { authz: { 'forward-auth': { implementation: 'ForwardAuth', authn_strategies: BEARER_STRATEGIES } } },
        },
        identity_providers: { oidc: oidcSection(await clientDigest(APP_SECRET), await clientDigest(SCRIPTS_SECRET)) },
      },
    });
    scripts = await discover(gw.port, 'scripts', SCRIPTS_SECRET);
  });
  after(async () => {
    await gw?.close();
    await echo?.close();
  });

  // as behind a TLS terminator on 443: the Host the audience names, without the test's port
  const call = (authorization: string) =>
    request(`http://scripts.example.test:${gw.port}/run`, { headers: { host: 'scripts.example.test', 'x-forwarded-proto': 'https', authorization } });

  it('a client token reaches the app; a garbage one is refused before it', async () => {
    const token = (await client.clientCredentialsGrant(scripts, { scope: BEARER_SCOPE })).access_token;
    const before = echo.requests.length;
    const passed = await call(`Bearer ${token}`);
    assert.equal(passed.status, 200, passed.body);
    assert.equal(echo.requests.length, before + 1);
    const refused = await call('Bearer not-a-token');
    assert.equal(refused.status, 401, refused.body);
    assert.equal(refused.headers['www-authenticate'], 'Bearer error="invalid_token"');
    assert.equal(echo.requests.length, before + 1, 'the refused request never reached the app');
  });
});
