// server.address with a path (`tcp://127.0.0.1:<port>/auth`), as Authelia's subpath: the portal, its API,
// the forward-auth endpoints, /api/health, the OpenID Connect provider and /jwks.json all answer under
// /auth/; the portal answers nothing outside it (a 404); the rows a proxy calls also answer at the
// root, as Authelia's. Then the same through a real nginx whose auth_request subrequest goes to /auth/api/authz/auth-request.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describeGatewayRoutes } from '../../gateway/routes.ts';
import { requireBinary } from '../helpers/binaries.ts';
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.ts';
import { CookieJar, request, type HttpResponse } from '../helpers/http.ts';
import { askAuthz, BROWSER_ACCEPT, portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { nginxSnippet, startNginx, type NginxServer } from '../helpers/nginx.ts';
import { clientDigest, testSigningKey } from '../helpers/oidc.ts';
import { freePort } from '../helpers/ports.ts';
import { makeCertificate, type TestCertificate } from '../helpers/tls.ts';

const PASSWORD = 'correct horse battery staple';
const USERS = { alice: { password: PASSWORD, groups: ['dev'] } };
const RULES = [{ domain: 'app.example.test', policy: 'one_factor' }];
const APP_PAGE = 'https://app.example.test/reports?q=1';

/** The gateway's forward-auth endpoints as a proxy reaches them: under the prefix. */
const underPrefix = (gw: InProcessGateway) => ({ url: `${gw.url}/auth` });

async function signIn(gw: InProcessGateway): Promise<string> {
  const response = await portal(gw, '/auth/api/firstfactor', {
    method: 'POST',
    json: { username: 'alice', password: PASSWORD },
    headers: { origin: PORTAL_ORIGIN, accept: 'application/json' },
  });
  assert.equal(response.status, 200, response.body);
  const cookie = response.cookies.find((c) => c.name === 'gatehouse_session');
  assert.ok(cookie);
  // the session cookie stays at path /: the browser must send it to every protected app, whose paths
  // have nothing to do with the gateway's prefix (forward auth reads it from the app's request)
  assert.equal(cookie.attributes['path'], '/');
  return `gatehouse_session=${cookie.value}`;
}

describe('server.address tcp://127.0.0.1:<port>/auth: everything under /auth/, nothing outside', () => {
  let gw: InProcessGateway;
  let cookie: string;

  before(async () => {
    gw = await startInProcessGateway({
      users: USERS,
      config: {
        server: { address: 'tcp://127.0.0.1:0/auth' },
        session: { cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/auth/' }] },
        access_control: { default_policy: 'deny', rules: RULES },
        identity_providers: { oidc: { jwks: [{ key: testSigningKey() }], clients: [{ client_id: 'rp', client_secret: await clientDigest('rp-secret-long-enough'), redirect_uris: ['https://rp.example.test/cb'] }] } },
      },
    });
    cookie = await signIn(gw);
  });
  after(async () => {
    await gw?.close();
  });

  it('/auth/api/health answers, and /api/health too (as Authelia); /AUTH/api/health is a 404', async () => {
    assert.equal((await request(`${gw.url}/auth/api/health`)).status, 200);
    assert.equal((await request(`${gw.url}/api/health`)).status, 200);
    assert.equal((await request(`${gw.url}/AUTH/api/health`)).status, 404);
  });

  it('the portal is at /auth/ (the bare /auth redirects there), its links and assets carry the prefix', async () => {
    const bare = await portal(gw, '/auth');
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.location, '/auth/');
    const page = await portal(gw, '/auth/', { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(page.status, 200);
    assert.match(page.body, /href="\/auth\/static\/portal\.css"/);
    assert.match(page.body, /action="\/auth\/login"/);
    assert.equal((await portal(gw, '/auth/static/portal.css')).status, 200);
    assert.equal((await portal(gw, '/static/portal.css')).status, 404);
    assert.equal((await portal(gw, '/', { headers: { accept: BROWSER_ACCEPT } })).status, 404);
  });

  it('a sign-in through the form lands on the page it was asked for; a signed-in visit to the portal stays under /auth/', async () => {
    const form = new URLSearchParams({ username: 'alice', password: PASSWORD, rd: APP_PAGE, rm: 'GET' }).toString();
    const response = await portal(gw, '/auth/login', { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded', origin: PORTAL_ORIGIN } });
    assert.equal(response.status, 303, response.body);
    assert.equal(response.headers.location, APP_PAGE);
    const logout = await portal(gw, '/auth/logout', { method: 'POST', body: '', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: PORTAL_ORIGIN, cookie: `gatehouse_session=${response.cookies.find((c) => c.name === 'gatehouse_session')!.value}` } });
    assert.equal(logout.status, 303);
    assert.equal(logout.headers.location, '/auth/');
  });

  it('forward-auth and auth-request under /auth/ let a signed-in user through with the identity headers', async () => {
    for (const dialect of ['forward-auth', 'auth-request', 'legacy'] as const) {
      const response = await askAuthz(underPrefix(gw), dialect, APP_PAGE, { cookie });
      assert.equal(response.status, 200, `${dialect}: ${response.body}`);
      assert.equal(response.headers['remote-user'], 'alice', dialect);
      assert.equal(response.headers['remote-groups'], 'dev', dialect);
    }
  });

  it('an anonymous request is sent to the portal at /auth/: 302 for forward-auth, 401 with Location for auth-request', async () => {
    const expected = `https://auth.example.test/auth/?rd=${encodeURIComponent(APP_PAGE)}&rm=GET`;
    const forward = await askAuthz(underPrefix(gw), 'forward-auth', APP_PAGE, { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(forward.status, 302);
    assert.equal(forward.headers.location, expected);
    const authRequest = await askAuthz(underPrefix(gw), 'auth-request', APP_PAGE, { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(authRequest.status, 401);
    assert.equal(authRequest.headers.location, expected);
  });

  it('the forward-auth endpoints also answer at the root, as Authelia\'s do: a proxy set up before the path keeps working', async () => {
    for (const dialect of ['forward-auth', 'auth-request', 'legacy'] as const) {
      const response = await askAuthz({ url: gw.url }, dialect, APP_PAGE, { cookie });
      assert.equal(response.status, 200, `${dialect}: ${response.body}`);
      assert.equal(response.headers['remote-user'], 'alice', dialect);
    }
    const anonymous = await askAuthz({ url: gw.url }, 'forward-auth', APP_PAGE, { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(anonymous.status, 302);
    assert.equal(anonymous.headers.location, `https://auth.example.test/auth/?rd=${encodeURIComponent(APP_PAGE)}&rm=GET`);
  });

  it('the forward-auth endpoints under a spelling of the prefix that is not the prefix are a 404 even with a good session', async () => {
    for (const dialect of ['forward-auth', 'auth-request', 'legacy'] as const) {
      for (const base of [`${gw.url}/authx`, `${gw.url}/AUTH`, `${gw.url}/%61uth`]) {
        const response = await askAuthz({ url: base }, dialect, APP_PAGE, { cookie });
        assert.equal(response.status, 404, `${dialect} at ${base}`);
        assert.equal(response.headers['remote-user'], undefined);
      }
    }
  });

  it('no portal row answers outside the prefix, whatever its method', async () => {
    const rows = describeGatewayRoutes(gw.config).filter((row) => row.hosts === 'portal');
    assert.ok(rows.length > 50);
    for (const row of rows) {
      const path = row.path.replace(/\*$/, 'portal.css').replace(/:[A-Za-z]+/g, 'x');
      for (const method of row.method === 'ANY' ? ['GET', 'POST'] : [row.method === 'GET' ? 'GET' : row.method]) {
        const response = await portal(gw, path, { method, headers: { cookie, accept: 'application/json', origin: PORTAL_ORIGIN, ...forwardedFor(row.hosts) } });
        assert.equal(response.status, 404, `${method} ${path} (${row.hosts}): ${response.status}`);
      }
    }
  });

  it('OpenID Connect: discovery under /auth/ names the issuer and the prefixed /jwks.json, which answers; discovery does not answer at the root', async () => {
    const discovery = await portal(gw, '/auth/.well-known/openid-configuration');
    assert.equal(discovery.status, 200);
    const metadata = discovery.json<{ issuer: string; jwks_uri: string; authorization_endpoint: string; token_endpoint: string }>();
    assert.equal(metadata.issuer, 'https://auth.example.test/auth');
    assert.equal(metadata.jwks_uri, 'https://auth.example.test/auth/jwks.json');
    assert.ok(metadata.authorization_endpoint.startsWith('https://auth.example.test/auth/'), metadata.authorization_endpoint);
    assert.ok(metadata.token_endpoint.startsWith('https://auth.example.test/auth/'), metadata.token_endpoint);
    const jwks = await portal(gw, '/auth/jwks.json');
    assert.equal(jwks.status, 200);
    assert.ok(jwks.json<{ keys: unknown[] }>().keys.length > 0);
    assert.equal((await portal(gw, '/.well-known/openid-configuration')).status, 404);
  });
});

/** What a proxy sends to the forward-auth rows (so a 404 there is the prefix, not a missing header). */
function forwardedFor(hosts: string): Record<string, string> {
  return hosts === 'every-host' ? { 'x-original-url': APP_PAGE, 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.test', 'x-forwarded-uri': '/reports', 'x-forwarded-method': 'GET' } : {};
}

describe('nginx in front: auth_request to /auth/api/authz/auth-request, the portal at https://auth.example.test/auth/', () => {
  let gw: InProcessGateway;
  let nginx: NginxServer;
  let echo: EchoUpstream;
  let cert: TestCertificate;
  let proxyPort: number;

  before(async () => {
    requireBinary('nginx', 'nginx-light');
    proxyPort = await freePort();
    gw = await startInProcessGateway({
      users: USERS,
      config: {
        server: { address: 'tcp://127.0.0.1:0/auth' },
        session: { cookies: [{ domain: 'example.test', authelia_url: `https://auth.example.test:${proxyPort}/auth/` }] },
        access_control: { default_policy: 'deny', rules: RULES },
      },
    });
    echo = await startEchoUpstream();
    cert = await makeCertificate(['auth.example.test', 'app.example.test']);
    // the portal's location passes /auth/… through unchanged (proxy_pass without a URI part)
    const site = `
map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      '';
}
server {
    listen 127.0.0.1:${proxyPort} ssl;
    server_name auth.example.test;
    ssl_certificate ${cert.certPath};
    ssl_certificate_key ${cert.keyPath};
    location /auth/ {
        include ${nginxSnippet('proxy.conf')};
        proxy_pass http://127.0.0.1:${gw.port};
    }
}
server {
    listen 127.0.0.1:${proxyPort} ssl;
    server_name app.example.test;
    ssl_certificate ${cert.certPath};
    ssl_certificate_key ${cert.keyPath};
    location = /authelia-internal {
        internal;
        proxy_pass http://127.0.0.1:${gw.port}/auth/api/authz/auth-request;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Original-URL $scheme://$host:$server_port$request_uri;
        proxy_set_header X-Original-Method $request_method;
        proxy_set_header X-Forwarded-For $remote_addr;
    }
    location / {
        auth_request /authelia-internal;
        auth_request_set $user $upstream_http_remote_user;
        auth_request_set $redirection_url $upstream_http_location;
        error_page 401 =302 $redirection_url;
        proxy_set_header Remote-User $user;
        proxy_pass ${echo.url};
    }
}
`;
    nginx = await startNginx({ dir: join(gw.dir, 'nginx'), config: site });
  });
  after(async () => {
    await nginx?.stop();
    await echo?.close();
    await cert?.cleanup();
    await gw?.close();
  });

  const browse = (jar: CookieJar, url: string, options: { method?: string; body?: string } = {}): Promise<HttpResponse> =>
    request(url, {
      ca: cert.certPem,
      method: options.method ?? 'GET',
      headers: {
        accept: BROWSER_ACCEPT,
        ...jar.headers(),
        ...(options.body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded', origin: `https://auth.example.test:${proxyPort}` } : {}),
      },
      ...(options.body !== undefined ? { body: options.body } : {}),
    }).then((response) => {
      jar.store(response);
      return response;
    });

  it('an anonymous visit goes to the portal under /auth/, the sign-in comes back, and the app sees the user', async () => {
    const jar = new CookieJar();
    const target = `https://app.example.test:${proxyPort}/reports?q=1`;
    const portalUrl = `https://auth.example.test:${proxyPort}/auth/`;

    const first = await browse(jar, target);
    assert.equal(first.status, 302);
    const signInAt = new URL(first.headers.location!);
    assert.equal(signInAt.origin + signInAt.pathname, portalUrl);
    assert.equal(signInAt.searchParams.get('rd'), target);
    assert.equal(echo.requests.length, 0);

    const page = await browse(jar, first.headers.location!);
    assert.equal(page.status, 200);
    assert.match(page.body, /action="\/auth\/login"/);

    const signedIn = await browse(jar, `${portalUrl}login`, { method: 'POST', body: new URLSearchParams({ username: 'alice', password: PASSWORD, rd: target, rm: 'GET' }).toString() });
    assert.equal(signedIn.status, 303, signedIn.body);
    assert.equal(signedIn.headers.location, target);

    const app = await browse(jar, target);
    assert.equal(app.status, 200, app.body);
    assert.equal(echo.requests.at(-1)?.headers['remote-user'], 'alice');
    assert.equal(echo.requests.at(-1)?.url, '/reports?q=1');
  });

  it('the portal host outside /auth/ reaches nothing (nginx has no location there, and the gateway would answer 404)', async () => {
    const outside = await browse(new CookieJar(), `https://auth.example.test:${proxyPort}/api/health`);
    assert.equal(outside.status, 404);
    const inside = await browse(new CookieJar(), `https://auth.example.test:${proxyPort}/auth/api/health`);
    assert.equal(inside.status, 200);
  });
});
