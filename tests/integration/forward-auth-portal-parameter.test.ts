// The proxy's `?authelia_url=` (Authelia 4.38) on the forward-auth endpoints, and the docs' nginx
// "HTTP Basic" variant: a server.endpoints.authz entry `auth-request/basic` that reads only Basic
// credentials.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request, type HttpResponse } from '../helpers/http.ts';
import { askAuthz, BROWSER_ACCEPT, forwardHeaders, login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';

const PASSWORD = 'correct horse battery staple';
const TARGET = 'https://app.example.test/page?x=1';

function locationBase(response: HttpResponse): string {
  const location = new URL(response.headers.location ?? 'missing:');
  assert.equal(location.searchParams.get('rd'), TARGET);
  return `${location.origin}${location.pathname}`;
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('forward auth: the portal named by ?authelia_url=, and the HTTP Basic endpoint', () => {
  let gw: InProcessGateway;
  let alice: string;

  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD, displayname: 'Alice', email: 'alice@example.test', groups: ['dev'] } },
      config: {
        access_control: { default_policy: 'deny', rules: [{ domain: ['app.example.test', 'app.other.test'], policy: 'one_factor' }] },
        session: {
          cookies: [
            { domain: 'example.test', authelia_url: 'https://auth.example.test/' },
            { domain: 'other.test', authelia_url: 'https://auth.other.test/' },
          ],
        },
        server: {
          endpoints: {
            authz: {
              'auth-request': { implementation: 'AuthRequest' },
              'forward-auth': { implementation: 'ForwardAuth' },
              'auth-request/basic': {
                implementation: 'AuthRequest',
                authn_strategies: [
                  { name: 'HeaderAuthorization', schemes: ['Basic'] },
                  { name: 'HeaderProxyAuthorization', schemes: ['Basic'] },
                ],
              },
            },
          },
        },
      },
    });
    alice = await login(gw, 'alice', PASSWORD);
  });
  after(() => gw.close());

  it('a portal under the target’s cookie domain is the one redirected to (nginx 401 + Location, forward-auth 302)', async () => {
    const query = `?authelia_url=${encodeURIComponent('https://login.example.test/sso/')}`;
    const nginx = await askAuthz(gw, 'auth-request', TARGET, { query });
    assert.equal(nginx.status, 401);
    assert.equal(locationBase(nginx), 'https://login.example.test/sso/');
    const traefik = await askAuthz(gw, 'forward-auth', TARGET, { query, headers: { accept: BROWSER_ACCEPT } });
    assert.equal(traefik.status, 302);
    assert.equal(locationBase(traefik), 'https://login.example.test/sso/');
  });

  it('without the parameter (or with it empty) the cookie domain’s own portal is used', async () => {
    for (const query of ['', '?authelia_url=']) {
      const r = await askAuthz(gw, 'forward-auth', TARGET, { query, headers: { accept: BROWSER_ACCEPT } });
      assert.equal(r.status, 302, query);
      assert.equal(locationBase(r), 'https://auth.example.test/', query);
    }
  });

  it('a portal outside the target’s cookie domain is refused: 401 with no Location, never a redirect there', async () => {
    const unsafe = [
      'https://evil.test/',
      'https://example.test.evil.test/',
      'https://auth.example.test@evil.test/',
      '//evil.test/',
      'http://auth.example.test/',
      'javascript:alert(1)',
      // another configured cookie domain's portal is not this target's
      'https://auth.other.test/',
    ];
    for (const portalUrl of unsafe) {
      const query = `?authelia_url=${encodeURIComponent(portalUrl)}`;
      for (const dialect of ['auth-request', 'forward-auth'] as const) {
        const r = await askAuthz(gw, dialect, TARGET, { query, headers: { accept: BROWSER_ACCEPT } });
        assert.equal(r.status, 401, `${dialect} ${portalUrl}`);
        assert.equal(r.headers.location, undefined, `${dialect} ${portalUrl}`);
      }
    }
  });

  it('the parameter changes nothing for a signed-in user', async () => {
    const r = await askAuthz(gw, 'forward-auth', TARGET, { cookie: alice, query: `?authelia_url=${encodeURIComponent('https://evil.test/')}` });
    assert.equal(r.status, 200);
    assert.equal(r.headers['remote-user'], 'alice');
  });

  describe('/api/authz/auth-request/basic (AuthRequest, HeaderAuthorization + HeaderProxyAuthorization, Basic)', () => {
    const ask = (headers: Record<string, string>) =>
      request(`${gw.url}/api/authz/auth-request/basic`, { method: 'GET', headers: { ...forwardHeaders('auth-request', TARGET), ...headers } });

    it('Basic credentials in Authorization or Proxy-Authorization let the user through with their identity', async () => {
      for (const header of ['authorization', 'proxy-authorization']) {
        const r = await ask({ [header]: basic('alice', PASSWORD) });
        assert.equal(r.status, 200, `${header}: ${r.body}`);
        assert.equal(r.headers['remote-user'], 'alice');
        assert.equal(r.headers['remote-email'], 'alice@example.test');
      }
    });

    it('no credentials, a wrong password or only a session cookie: 401 asking for Basic, never the portal', async () => {
      for (const headers of [{}, { authorization: basic('alice', 'wrong password') }, { cookie: alice }] as Record<string, string>[]) {
        const r = await ask(headers);
        assert.equal(r.status, 401, JSON.stringify(Object.keys(headers)));
        assert.match(r.headers['www-authenticate'] ?? '', /^Basic /, `${JSON.stringify(Object.keys(headers))} ${r.status} ${JSON.stringify(r.headers)}`);
        assert.equal(r.headers.location, undefined);
      }
    });
  });
});
