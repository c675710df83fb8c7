// An Authelia config that limits /api/authz/forward-auth to the session cookie (server.endpoints.authz)
// used to be "ignored" with a warning while Basic credentials still passed with 200. A setting that
// narrows access is honoured, or refused at load time: never ignored.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderProblem } from '../../lib/config-problems.ts';
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.ts';
import { request } from '../helpers/http.ts';
import { askAuthz, login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { freePort } from '../helpers/ports.ts';
import { makeConfigDir, MINIMAL_CONFIG, type ConfigDir } from '../unit/config/config-files.ts';

const PASSWORD = 'correct horse battery staple';
const APP = 'https://app.example.test/';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The Authelia server.endpoints block an operator writes to allow only the session cookie on forward-auth. */
const COOKIE_ONLY_FORWARD_AUTH = {
  'forward-auth': { implementation: 'ForwardAuth', authn_strategies: [{ name: 'CookieSession' }] },
  'auth-request': { implementation: 'AuthRequest', authn_strategies: [{ name: 'HeaderProxyAuthorization', schemes: ['Basic'] }, { name: 'CookieSession' }] },
};

describe('server.endpoints.authz.forward-auth limited to CookieSession', () => {
  let gw: InProcessGateway;
  let cookie: string;
  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD } },
      config: { access_control: { default_policy: 'one_factor' }, server: { endpoints: { authz: COOKIE_ONLY_FORWARD_AUTH } } },
    });
    cookie = await login(gw, 'alice', PASSWORD);
  });
  after(() => gw?.close());

  it('loads without a warning that it is ignored', () => {
    assert.deepEqual(gw.warnings.filter((w) => w.includes('server.endpoints')), []);
  });

  it('correct Basic credentials in Authorization: 401, not 200', async () => {
    const response = await askAuthz(gw, 'forward-auth', APP, { headers: { authorization: basic('alice', PASSWORD) } });
    assert.equal(response.status, 401);
    assert.equal(response.headers['remote-user'], undefined);
  });

  it('correct Basic credentials in Proxy-Authorization: 401 too', async () => {
    const response = await askAuthz(gw, 'forward-auth', APP, { headers: { 'proxy-authorization': basic('alice', PASSWORD) } });
    assert.equal(response.status, 401);
  });

  it('the session cookie still passes', async () => {
    const response = await askAuthz(gw, 'forward-auth', APP, { cookie });
    assert.equal(response.status, 200);
    assert.equal(response.headers['remote-user'], 'alice');
  });

  it('auth-request reads Basic from Proxy-Authorization only, as its strategies say', async () => {
    assert.equal((await askAuthz(gw, 'auth-request', APP, { headers: { 'proxy-authorization': basic('alice', PASSWORD) } })).status, 200);
    assert.equal((await askAuthz(gw, 'auth-request', APP, { headers: { authorization: basic('alice', PASSWORD) } })).status, 401);
  });

  it('an endpoint the map does not list is not served (a configured map replaces the defaults, as in Authelia)', async () => {
    const response = await askAuthz(gw, 'legacy', APP, { cookie });
    assert.notEqual(response.status, 200);
    assert.equal(response.headers['remote-user'], undefined);
  });
});

/** A gateway with the embedded proxy in front of an echo app and `authz` as server.endpoints.authz; alice logged in. */
async function proxyWithAuthz(authz: Record<string, unknown>) {
  const echo = await startEchoUpstream();
  const port = await freePort();
  const host = `localhost:${port}`;
  const gw = await startInProcessGateway({
    users: { alice: { password: PASSWORD } },
    config: {
      server: { address: `tcp://127.0.0.1:${port}`, upstreams: { default: echo.url }, endpoints: { authz } },
      session: { cookies: [{ domain: 'localhost', authelia_url: `http://${host}/auth/` }] },
      access_control: { default_policy: 'one_factor' },
    },
  });
  const res = await request(`http://${host}/auth/api/firstfactor`, { method: 'POST', json: { username: 'alice', password: PASSWORD }, headers: { origin: `http://${host}` } });
  const set = res.cookies.find((c) => c.name === 'gatehouse_session');
  assert.ok(set, `login failed: ${res.status} ${res.body}`);
  /** One request through the embedded proxy: its status and whom the app was told it came from. */
  const through = async (headers: Record<string, string>) => {
    const before = echo.requests.length;
    const response = await request(`http://${host}/app/`, { headers });
    return { status: response.status, remoteUser: echo.requests.slice(before)[0]?.headers['remote-user'] };
  };
  /** The credential headers the app was handed. */
  const credentialsSeen = async (headers: Record<string, string>) => {
    const before = echo.requests.length;
    const response = await request(`http://${host}/app/`, { headers });
    const seen = echo.requests.slice(before)[0]?.headers;
    return { status: response.status, authorization: seen?.['authorization'], proxyAuthorization: seen?.['proxy-authorization'] };
  };
  return { through, credentialsSeen, cookie: `gatehouse_session=${set.value}`, close: async () => { await echo.close(); await gw.close(); } };
}

describe('the embedded proxy never hands the app the gateway password it checked', () => {
  let gw: Awaited<ReturnType<typeof proxyWithAuthz>>;
  before(async () => {
    // ForwardAuth's own defaults: Authorization (Basic) and the cookie, not Proxy-Authorization
    gw = await proxyWithAuthz({ 'forward-auth': { implementation: 'ForwardAuth' } });
  });
  after(() => gw?.close());

  it('Basic in Authorization beside some other Proxy-Authorization: allowed, and the app sees neither', async () => {
    const seen = await gw.credentialsSeen({ authorization: basic('alice', PASSWORD), 'proxy-authorization': 'Bearer something-else' });
    assert.deepEqual(seen, { status: 200, authorization: undefined, proxyAuthorization: undefined });
  });

  it("an app's own Bearer token beside the session cookie still reaches the app", async () => {
    const seen = await gw.credentialsSeen({ cookie: gw.cookie, authorization: 'Bearer the-apps-own-token' });
    assert.deepEqual(seen, { status: 200, authorization: 'Bearer the-apps-own-token', proxyAuthorization: undefined });
  });
});

describe('the embedded proxy honours server.endpoints.authz: the forward-auth entry when there is one', () => {
  let gw: Awaited<ReturnType<typeof proxyWithAuthz>>;
  before(async () => {
    gw = await proxyWithAuthz(COOKIE_ONLY_FORWARD_AUTH);
  });
  after(() => gw?.close());

  it('correct Basic credentials in Authorization: 401, and the app sees nothing', async () => {
    assert.deepEqual(await gw.through({ authorization: basic('alice', PASSWORD) }), { status: 401, remoteUser: undefined });
  });

  it('correct Basic credentials in Proxy-Authorization: 401 too (auth-request reads them, but the proxy answers as forward-auth)', async () => {
    assert.deepEqual(await gw.through({ 'proxy-authorization': basic('alice', PASSWORD) }), { status: 401, remoteUser: undefined });
  });

  it('the session cookie still passes', async () => {
    assert.deepEqual(await gw.through({ cookie: gw.cookie }), { status: 200, remoteUser: 'alice' });
  });
});

describe('the embedded proxy honours server.endpoints.authz: without a forward-auth entry, what any entry accepts', () => {
  let cookieOnly: Awaited<ReturnType<typeof proxyWithAuthz>>;
  let proxyHeader: Awaited<ReturnType<typeof proxyWithAuthz>>;
  before(async () => {
    cookieOnly = await proxyWithAuthz({ 'auth-request': { implementation: 'AuthRequest', authn_strategies: [{ name: 'CookieSession' }] } });
    proxyHeader = await proxyWithAuthz({
      'auth-request': { implementation: 'AuthRequest', authn_strategies: [{ name: 'CookieSession' }] },
      'ext-auth-request': { implementation: 'AuthRequest', authn_strategies: [{ name: 'HeaderProxyAuthorization' }] },
    });
  });
  after(async () => {
    await cookieOnly?.close();
    await proxyHeader?.close();
  });

  it('no entry lists a header strategy: Basic is refused (401), the cookie passes', async () => {
    assert.deepEqual(await cookieOnly.through({ authorization: basic('alice', PASSWORD) }), { status: 401, remoteUser: undefined });
    assert.deepEqual(await cookieOnly.through({ 'proxy-authorization': basic('alice', PASSWORD) }), { status: 401, remoteUser: undefined });
    assert.deepEqual(await cookieOnly.through({ cookie: cookieOnly.cookie }), { status: 200, remoteUser: 'alice' });
  });

  it('an entry reads Proxy-Authorization: Basic there passes, Basic in Authorization does not', async () => {
    assert.deepEqual(await proxyHeader.through({ 'proxy-authorization': basic('alice', PASSWORD) }), { status: 200, remoteUser: 'alice' });
    assert.deepEqual(await proxyHeader.through({ authorization: basic('alice', PASSWORD) }), { status: 401, remoteUser: undefined });
    assert.deepEqual(await proxyHeader.through({ cookie: proxyHeader.cookie }), { status: 200, remoteUser: 'alice' });
  });
});

describe('settings Gatehouse does not implement and that would narrow access are errors, not warnings', () => {
  let t: ConfigDir;
  before(async () => {
    t = await makeConfigDir();
  });
  after(() => t?.cleanup());

  const problemsWith = async (name: string, yaml: string) => t.problems([await t.write('base.yml', MINIMAL_CONFIG), await t.write(name, yaml)]);

  for (const [what, yaml, pattern] of [
    ['ExtAuthz (Envoy)', 'server:\n  endpoints:\n    authz:\n      ext-authz:\n        implementation: ExtAuthz\n', /^config: server\.endpoints\.authz\.ext-authz\.implementation: 'ExtAuthz' \(Envoy\) is not implemented/],
    // Bearer tokens come from the OpenID Connect provider: without it, the scheme cannot be honoured
    ['a Bearer scheme without the provider', 'server:\n  endpoints:\n    authz:\n      forward-auth:\n        implementation: ForwardAuth\n        authn_strategies:\n          - name: HeaderAuthorization\n            schemes: [Bearer]\n', /schemes: lists 'Bearer', whose tokens come from identity_providers\.oidc, which is not configured/],
    ['server.endpoints.rate_limits', 'server:\n  endpoints:\n    rate_limits:\n      reset_password_finish:\n        enable: true\n', /^config: server\.endpoints\.rate_limits: is an Authelia option Gatehouse does not implement yet, and it limits/],
  ] as const) {
    it(`${what}: refused, naming the option`, async () => {
      const problems = await problemsWith(`${what.replace(/\W+/g, '-')}.yml`, yaml);
      assert.ok(problems.some((p) => pattern.test(p)), problems.join('\n'));
    });
  }

  it('password_policy.zxcvbn is implemented now: enabled, it loads with no problem about it (it refuses weak passwords itself)', async () => {
    const loaded = t.load([await t.write('zxcvbn.yml', `${MINIMAL_CONFIG}password_policy:\n  zxcvbn:\n    enabled: true\n    min_score: 4\n`)]);
    assert.deepEqual(loaded.warnings.map(renderProblem).filter((w) => w.includes('password_policy')), []);
    assert.equal(loaded.config.password_policy.zxcvbn.min_score, 4);
  });

  it('password_policy.standard is implemented: enabled or switched off, it loads with no problem about it', async () => {
    for (const enabled of [true, false]) {
      const loaded = t.load([await t.write(`policy-${enabled}.yml`, `${MINIMAL_CONFIG}password_policy:\n  standard:\n    enabled: ${enabled}\n    min_length: 16\n`)]);
      assert.deepEqual(loaded.warnings.map(renderProblem).filter((w) => w.includes('password_policy')), []);
      assert.equal(loaded.config.password_policy.standard.min_length, 16);
    }
  });
});
