// The embedded reverse proxy: Gatehouse alone in front of an app (as `npm start` runs it), the portal
// on the same host under /auth/. What reaches the app, and what never does.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoUpstream, type EchoedRequest, type EchoUpstream } from '../helpers/echo-upstream.ts';
import { request, type HttpResponse, type RequestOptions } from '../helpers/http.ts';
import { BROWSER_ACCEPT, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { freePort } from '../helpers/ports.ts';
import { upgradeStatus } from '../helpers/websocket-upgrade.ts';

const PASSWORD = 'correct horse battery staple';

describe('the embedded proxy in front of an app (portal at /auth/ on the same host)', () => {
  let echo: EchoUpstream;
  let gw: InProcessGateway;
  let base: string;
  let cookie: string;

  const browse = (path: string, options: RequestOptions = {}) =>
    request(`${base}${path}`, { ...options, headers: { accept: BROWSER_ACCEPT, ...options.headers } });
  /** The response, and what the app received meanwhile. */
  const during = async (action: () => Promise<HttpResponse>): Promise<{ response: HttpResponse; seen: EchoedRequest[] }> => {
    const before = echo.requests.length;
    const response = await action();
    return { response, seen: echo.requests.slice(before) };
  };
  const only = (seen: EchoedRequest[]): EchoedRequest => {
    assert.equal(seen.length, 1, `the app received ${seen.length} requests`);
    return seen[0]!;
  };

  before(async () => {
    echo = await startEchoUpstream({ websocket: true });
    const port = await freePort();
    base = `http://localhost:${port}`;
    gw = await startInProcessGateway({
      users: {
        alice: { password: PASSWORD, displayname: 'Alice Liddell', email: 'alice@example.test', groups: ['dev'] },
      },
      config: {
        server: { address: `tcp://127.0.0.1:${port}`, upstreams: { default: echo.url } },
        session: { cookies: [{ domain: 'localhost', authelia_url: `${base}/auth/` }] },
        access_control: {
          default_policy: 'one_factor',
          rules: [
            { domain: 'localhost', resources: ['^/open/', '^/api/health$'], policy: 'bypass' },
            { domain: 'localhost', resources: ['^/admin/'], subject: 'group:admins', policy: 'one_factor' },
            { domain: 'localhost', resources: ['^/admin/'], policy: 'deny' },
          ],
        },
      },
    });
    const login = await request(`${base}/auth/api/firstfactor`, { method: 'POST', json: { username: 'alice', password: PASSWORD }, headers: { origin: base } });
    const set = login.cookies.find((c) => c.name === 'gatehouse_session');
    assert.ok(set, `login failed: ${login.status} ${login.body}`);
    assert.equal(set.attributes['secure'], undefined, 'plain-http loopback portal: no Secure flag');
    assert.equal(set.attributes['domain'], undefined, 'no Domain attribute for localhost');
    cookie = `gatehouse_session=${set.value}`;
  });
  after(async () => {
    await gw?.close();
    await echo?.close();
  });

  describe("the gateway's own paths and the app's on a shared host", () => {
    it("/api/health on the proxied host is the app's (a rule lets it through), the portal's is under /auth/", async () => {
      const app = await during(() => request(`${base}/api/health`));
      assert.equal(app.response.status, 200);
      assert.equal(only(app.seen).url, '/api/health');
      const gateway = await during(() => request(`${base}/auth/api/health`));
      assert.equal(gateway.response.status, 200);
      assert.equal(gateway.response.json<{ status: string }>().status, 'OK');
      assert.equal(gateway.seen.length, 0);
    });

    it('/api/authz/* stays the gateway\'s on every host: proxies ask there', async () => {
      const { response, seen } = await during(() =>
        request(`${base}/api/authz/auth-request`, { headers: { 'x-original-url': `${base}/app/x`, 'x-original-method': 'GET', cookie } }),
      );
      assert.equal(response.status, 200);
      assert.equal(response.headers['remote-user'], 'alice');
      assert.equal(seen.length, 0);
    });
  });

  describe('an anonymous visitor never reaches the app', () => {
    it('a browser GET → 302 to the portal with rd and rm', async () => {
      const { response, seen } = await during(() => browse('/app/page?x=1'));
      assert.equal(response.status, 302);
      const location = new URL(response.headers.location ?? '');
      assert.equal(`${location.origin}${location.pathname}`, `${base}/auth/`);
      assert.equal(location.searchParams.get('rd'), `${base}/app/page?x=1`);
      assert.equal(location.searchParams.get('rm'), 'GET');
      assert.equal(seen.length, 0);
    });

    it('a browser POST → 303; an API client → 401', async () => {
      const post = await during(() => browse('/app/form', { method: 'POST', body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }));
      assert.equal(post.response.status, 303);
      const api = await during(() => request(`${base}/app/items`, { headers: { accept: 'application/json' } }));
      assert.equal(api.response.status, 401);
      assert.equal(post.seen.length + api.seen.length, 0);
    });

    it('the portal on the same host is the portal, not the app: /auth/?rd=… is the sign-in page, /auth redirects there', async () => {
      const { response, seen } = await during(() => browse(`/auth/?rd=${encodeURIComponent(`${base}/app/`)}&rm=GET`));
      assert.equal(response.status, 200, `${response.status} ${response.headers.location ?? ''}`);
      assert.match(response.body, /<form method="post" action="\/auth\/login"/);
      const bare = await browse('/auth?rd=x');
      assert.equal(bare.status, 301);
      assert.equal(bare.headers.location, '/auth/?rd=x');
      assert.equal(seen.length, 0);
    });
  });

  describe('a logged-in user reaches the app, which sees who they are', () => {
    it('GET with the path and query intact and the four Remote-* headers', async () => {
      const { response, seen } = await during(() => browse('/app/dashboard?tab=2', { headers: { cookie } }));
      assert.equal(response.status, 200);
      const upstream = only(seen);
      assert.equal(upstream.url, '/app/dashboard?tab=2');
      assert.equal(upstream.headers['remote-user'], 'alice');
      assert.equal(upstream.headers['remote-groups'], 'dev');
      assert.equal(upstream.headers['remote-name'], 'Alice Liddell');
      assert.equal(upstream.headers['remote-email'], 'alice@example.test');
      assert.deepEqual(JSON.parse(response.body).url, '/app/dashboard?tab=2', 'the app’s answer comes back');
    });

    it('POST bodies pass through', async () => {
      const { seen } = await during(() => browse('/app/form', { method: 'POST', body: 'a=1&b=2', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' } }));
      const upstream = only(seen);
      assert.equal(upstream.method, 'POST');
      assert.equal(upstream.body, 'a=1&b=2');
    });

    it('a rule the user does not satisfy → 403 and the app is not contacted', async () => {
      const { response, seen } = await during(() => browse('/admin/', { headers: { cookie } }));
      assert.equal(response.status, 403);
      assert.equal(seen.length, 0);
    });
  });

  describe('identity headers sent by the client never reach the app', () => {
    const spoof = { 'Remote-User': 'root', remote_user: 'root', 'REMOTE-GROUPS': 'admins', 'remote-email': 'root@evil.test', Remote_Name: 'Root' };

    it('anonymous on a bypass path: none of them arrive, in any spelling', async () => {
      const { response, seen } = await during(() => browse('/open/page', { headers: spoof }));
      assert.equal(response.status, 200);
      const upstream = only(seen);
      const identity = Object.keys(upstream.headers).filter((name) => name.replace(/_/g, '-').startsWith('remote-'));
      assert.deepEqual(identity, [], `reached the app: ${JSON.stringify(identity)}`);
    });

    it('logged in: the app sees Gatehouse’s values, not the client’s', async () => {
      const { seen } = await during(() => browse('/app/', { headers: { ...spoof, cookie } }));
      const upstream = only(seen);
      assert.equal(upstream.headers['remote-user'], 'alice');
      assert.equal(upstream.headers['remote-groups'], 'dev');
      assert.equal(upstream.headers['remote-email'], 'alice@example.test');
      assert.equal(upstream.headers['remote_user'], undefined);
      assert.equal(upstream.headers['remote_name'], undefined);
    });

    it('spoofed headers do not get an anonymous visitor past a protected path', async () => {
      const { response, seen } = await during(() => browse('/app/', { headers: spoof }));
      assert.equal(response.status, 302);
      assert.equal(seen.length, 0);
    });
  });

  describe('the session cookie is the gateway’s: the app gets the other cookies only', () => {
    it('theme and lang arrive, gatehouse_session does not', async () => {
      const { seen } = await during(() => browse('/app/', { headers: { cookie: `theme=dark; ${cookie}; lang=en` } }));
      assert.equal(only(seen).headers.cookie, 'theme=dark; lang=en');
    });

    it('with only the session cookie, the app gets no Cookie header', async () => {
      const { seen } = await during(() => browse('/app/', { headers: { cookie } }));
      assert.equal(only(seen).headers.cookie, undefined);
    });
  });

  describe('Basic credentials are the gateway password: the app never sees them', () => {
    const basic = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;

    it('Authorization: Basic that got the request through is removed', async () => {
      const { response, seen } = await during(() => browse('/app/', { headers: { authorization: basic, accept: 'application/json' } }));
      assert.equal(response.status, 200);
      const upstream = only(seen);
      assert.equal(upstream.headers['remote-user'], 'alice');
      assert.equal(upstream.headers.authorization, undefined);
    });

    it('Proxy-Authorization: Basic is removed; the app’s own Bearer token stays', async () => {
      const { seen } = await during(() => browse('/app/', { headers: { 'proxy-authorization': basic, authorization: 'Bearer app-token' } }));
      const upstream = only(seen);
      assert.equal(upstream.headers['proxy-authorization'], undefined);
      assert.equal(upstream.headers.authorization, 'Bearer app-token');
    });

    it('a session user’s Bearer token for the app is passed on untouched', async () => {
      const { seen } = await during(() => browse('/app/', { headers: { cookie, authorization: 'Bearer app-token' } }));
      assert.equal(only(seen).headers.authorization, 'Bearer app-token');
    });
  });

  // (the untrusted-client case is in embedded-proxy-host-spellings.test.ts; 127.0.0.1 is a trusted proxy here)
  describe('X-Forwarded-* are written by Gatehouse: one client address, the target scheme, the Host', () => {
    it('behind a trusted proxy the app gets the client Gatehouse settled on, not the whole chain', async () => {
      const { seen } = await during(() => browse('/app/', {
        headers: { cookie, 'x-forwarded-for': '198.51.100.9, 203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', 'x-forwarded-port': '8443', forwarded: 'for=198.51.100.9', 'x-real-ip': '198.51.100.9' },
      }));
      const headers = only(seen).headers;
      assert.equal(headers['x-forwarded-for'], '203.0.113.7', 'the right-most address that is not a trusted proxy');
      assert.equal(headers['x-forwarded-proto'], 'https', 'the scheme the trusted proxy reported, which the rules used');
      assert.equal(headers['x-forwarded-host'], `localhost:${gw.port}`);
      for (const name of ['x-forwarded-port', 'forwarded', 'x-real-ip']) assert.equal(headers[name], undefined, name);
    });
  });

  describe('WebSocket upgrades are proxied only when authorised', () => {
    it('logged in: the socket opens through Gatehouse and messages echo; the app sees the identity, not the session cookie', async () => {
      const before = echo.requests.length;
      const ws = new WebSocket(`ws://localhost:${gw.port}/app/socket`, { headers: { cookie: `theme=dark; ${cookie}`, 'remote-user': 'root' } });
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('the WebSocket did not open within 5 s')), 5_000);
          ws.onopen = () => {
            clearTimeout(timer);
            resolve();
          };
          ws.onerror = () => {
            clearTimeout(timer);
            reject(new Error('the WebSocket failed to open'));
          };
        });
        const echoed = new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no echo within 5 s')), 5_000);
          ws.onmessage = (event) => {
            clearTimeout(timer);
            resolve(String(event.data));
          };
        });
        ws.send('hello through gatehouse');
        assert.equal(await echoed, 'hello through gatehouse');
      } finally {
        ws.close();
      }
      const upgrade = only(echo.requests.slice(before));
      assert.equal(upgrade.url, '/app/socket');
      assert.equal(upgrade.headers['remote-user'], 'alice');
      assert.equal(upgrade.headers.cookie, 'theme=dark');
    });

    it('anonymous: the upgrade is answered 401 and never reaches the app', async () => {
      const before = echo.requests.length;
      const status = await upgradeStatus(gw.port, 'localhost', '/app/socket', { 'remote-user': 'alice' });
      assert.equal(status, 401);

      const opened = await new Promise<boolean>((resolve) => {
        const ws = new WebSocket(`ws://localhost:${gw.port}/app/socket`);
        const timer = setTimeout(() => resolve(false), 5_000);
        ws.onopen = () => {
          clearTimeout(timer);
          ws.close();
          resolve(true);
        };
        ws.onerror = () => {
          clearTimeout(timer);
          resolve(false);
        };
      });
      assert.equal(opened, false, 'the browser API cannot open it either');
      assert.equal(echo.requests.length, before);
    });
  });
});
