// Gatehouse behind the reverse proxies users run, configured with the snippets this repository
// ships (nginx/snippets/*.conf included unedited; the (gatehouse) snippet of caddy/Caddyfile.example
// with only the address changed): a browser's view over TLS, with a real gateway, Redis and app.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { argon2id, hash } from 'argon2';
import { stringify } from 'yaml';
import { requireBinary } from '../helpers/binaries.ts';
import { caddySnippet, startCaddy, validateCaddyfile } from '../helpers/caddy.ts';
import { startEchoUpstream, type EchoedRequest, type EchoUpstream } from '../helpers/echo-upstream.ts';
import { startGatewayProcess } from '../helpers/gateway.ts';
import { CookieJar, request, type HttpResponse, type RequestOptions } from '../helpers/http.ts';
import { checkNginxConfig, nginxSnippet, startNginx } from '../helpers/nginx.ts';
import { freePort } from '../helpers/ports.ts';
import { startRedis } from '../helpers/redis.ts';
import { repoPath } from '../helpers/repo.ts';
import { makeCertificate } from '../helpers/tls.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { generateSecret } from '../../lib/secret-strength.ts';

type ProxyKind = 'nginx' | 'caddy';

const password = 'correct horse battery staple';
const sessionCookie = 'gatehouse_session';
const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/** Everything one proxy needs: gateway, Redis, app, certificate, and the proxy in front. */
interface Stack {
  /** `https://auth.example.test:<port>/` */
  portal: string;
  /** `https://<name>.example.test:<port><path>` */
  url(name: 'auth' | 'app' | 'admin' | 'public', path?: string): string;
  ca: string;
  echo: EchoUpstream;
  gatewayLogs(): string;
  stop(): Promise<void>;
}

function gatewayConfig(options: { dir: string; gatewayPort: number; proxyPort: number; redisPort: number }): string {
  const { dir, gatewayPort, proxyPort, redisPort } = options;
  return stringify({
    server: { address: `tcp://127.0.0.1:${gatewayPort}` },
    log: { level: 'warn' },
    authentication_backend: { file: { path: join(dir, 'users.yml') } },
    session: {
      secret: generateSecret(),
      cookies: [
        {
          domain: 'example.test',
          authelia_url: `https://auth.example.test:${proxyPort}/`,
          default_redirection_url: `https://app.example.test:${proxyPort}/`,
        },
      ],
      redis: { host: '127.0.0.1', port: redisPort },
    },
    storage: { encryption_key: generateSecret(), local: { path: join(dir, 'db.sqlite3') } },
    access_control: {
      default_policy: 'deny',
      rules: [
        { domain: 'public.example.test', policy: 'bypass' },
        { domain: 'admin.example.test', subject: 'group:admins', policy: 'one_factor' },
        { domain: 'app.example.test', policy: 'one_factor' },
      ],
    },
  });
}

function nginxSite(options: { proxyPort: number; gatewayPort: number; echo: EchoUpstream; certPath: string; keyPath: string }): string {
  const { proxyPort, gatewayPort, echo, certPath, keyPath } = options;
  // Same shape as nginx/site.conf.example, on one port with test hostnames.
  return `
upstream gatehouse {
    server 127.0.0.1:${gatewayPort};
    keepalive 16;
}
map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      '';
}
server {
    listen 127.0.0.1:${proxyPort} ssl;
    server_name auth.example.test;
    ssl_certificate ${certPath};
    ssl_certificate_key ${keyPath};
    location / {
        include ${nginxSnippet('proxy.conf')};
        proxy_pass http://gatehouse;
    }
}
server {
    listen 127.0.0.1:${proxyPort} ssl;
    server_name app.example.test admin.example.test public.example.test;
    ssl_certificate ${certPath};
    ssl_certificate_key ${keyPath};
    include ${nginxSnippet('gatehouse-location.conf')};
    location / {
        include ${nginxSnippet('proxy.conf')};
        include ${nginxSnippet('gatehouse-authrequest.conf')};
        proxy_pass ${echo.url};
    }
}
`;
}

async function caddySites(options: { proxyPort: number; gatewayPort: number; echo: EchoUpstream; certPath: string; keyPath: string }): Promise<string> {
  const { proxyPort, gatewayPort, echo, certPath, keyPath } = options;
  const shipped = await caddySnippet(repoPath('caddy', 'Caddyfile.example'), 'gatehouse');
  assert.equal(shipped.split('127.0.0.1:9091').length, 2, 'the (gatehouse) snippet names Gatehouse\'s address exactly once');
  const snippet = shipped.replace('127.0.0.1:9091', `127.0.0.1:${gatewayPort}`);
  const protectedSites = ['app', 'admin', 'public'].map((name) => `https://${name}.example.test:${proxyPort}`).join(', ');
  // Same shape as caddy/Caddyfile.example, on one port with test hostnames.
  return `${snippet}

https://auth.example.test:${proxyPort} {
	tls ${certPath} ${keyPath}
	reverse_proxy 127.0.0.1:${gatewayPort}
}

${protectedSites} {
	tls ${certPath} ${keyPath}
	import gatehouse
	reverse_proxy ${echo.url}
}
`;
}

async function startStack(kind: ProxyKind): Promise<Stack> {
  // Missing binaries fail here, naming the package to install.
  if (kind === 'nginx') requireBinary('nginx', 'nginx-light');
  else requireBinary('caddy', 'caddy');
  requireBinary('redis-server', 'redis-server');
  requireBinary('openssl', 'openssl');

  const cleanups: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
  try {
    const temp = await makeTempDir(`gatehouse-proxies-${kind}-`);
    cleanups.push(temp.cleanup);
    const cert = await makeCertificate(['auth.example.test', 'app.example.test', 'admin.example.test', 'public.example.test']);
    cleanups.push(cert.cleanup);
    const echo = await startEchoUpstream();
    cleanups.push(echo.close);
    const redis = await startRedis();
    cleanups.push(redis.stop);

    const proxyPort = await freePort();
    const gatewayPort = await freePort();
    const passwordHash = await hash(password, { type: argon2id, memoryCost: 1024, timeCost: 1 });
    await writeFile(
      join(temp.dir, 'users.yml'),
      stringify({ users: { alice: { displayname: 'Alice', password: passwordHash, email: 'alice@example.test', groups: ['dev'] } } }),
      { mode: 0o600 },
    );
    const gateway = await startGatewayProcess({
      dir: temp.dir,
      configYaml: gatewayConfig({ dir: temp.dir, gatewayPort, proxyPort, redisPort: redis.port }),
    });
    cleanups.push(gateway.stop);

    const proxyDir = join(temp.dir, kind);
    const siteOptions = { proxyPort, gatewayPort, echo, certPath: cert.certPath, keyPath: cert.keyPath };
    const proxy =
      kind === 'nginx'
        ? await startNginx({ dir: proxyDir, config: nginxSite(siteOptions) })
        : await startCaddy({ dir: proxyDir, caddyfile: await caddySites(siteOptions) });
    cleanups.push(proxy.stop);

    return {
      portal: `https://auth.example.test:${proxyPort}/`,
      url: (name, path = '/') => `https://${name}.example.test:${proxyPort}${path}`,
      ca: cert.certPem,
      echo,
      gatewayLogs: gateway.logs,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A request as a browser sends it: HTML accepted, cookies from `jar`. */
function browse(stack: Stack, url: string, jar: CookieJar, options: RequestOptions = {}): Promise<HttpResponse> {
  return request(url, { ...options, ca: stack.ca, headers: { accept: browserAccept, ...jar.headers(), ...options.headers } });
}

/** Runs `action` and returns what the app received meanwhile. */
async function upstreamRequestsDuring(stack: Stack, action: () => Promise<HttpResponse>): Promise<{ response: HttpResponse; seen: EchoedRequest[] }> {
  const before = stack.echo.requests.length;
  const response = await action();
  return { response, seen: stack.echo.requests.slice(before) };
}

function assertPortalRedirect(stack: Stack, response: HttpResponse, status: number, target: string, method?: string): void {
  assert.equal(response.status, status, `expected ${status} to the portal, got ${response.status}: ${response.body.slice(0, 300)}`);
  const location = response.headers.location ?? '';
  assert.ok(location.startsWith(stack.portal), `Location ${location} is not on the portal ${stack.portal}`);
  const redirect = new URL(location);
  assert.equal(redirect.searchParams.get('rd'), target, 'rd carries the page asked for');
  if (method !== undefined) assert.equal(redirect.searchParams.get('rm'), method, 'rm carries the method');
}

function onlyRequest(seen: EchoedRequest[]): EchoedRequest {
  assert.equal(seen.length, 1, `the app should have received exactly one request, got ${seen.length}`);
  return seen[0] as EchoedRequest;
}

const expectations = {
  nginx: {
    label: 'nginx (auth_request → /api/authz/auth-request)',
    // error_page 401 =302 answers every unauthenticated request with a 302, whatever the method or Accept.
    anonymousPost: 302,
    apiClient: 302,
  },
  caddy: {
    label: 'Caddy (forward_auth → /api/authz/forward-auth)',
    // Caddy returns Gatehouse's own answer: 303 after a POST, 401 to clients that do not accept HTML.
    anonymousPost: 303,
    apiClient: 401,
  },
} as const;

for (const kind of ['nginx', 'caddy'] as const) {
  const expected = expectations[kind];

  describe(`forward auth behind ${expected.label}`, { timeout: 120_000 }, () => {
    let stack: Stack;
    const jar = new CookieJar();
    let cookieBeforeLogout: string | undefined;

    before(async () => {
      stack = await startStack(kind);
    });
    after(async () => {
      await stack?.stop();
    });

    describe('an anonymous visitor', () => {
      it('is sent to the portal with the page they asked for in rd, and the app is not contacted', async () => {
        const target = stack.url('app', '/private/page?tab=1&x=a%20b');
        const { response, seen } = await upstreamRequestsDuring(stack, () => browse(stack, target, new CookieJar()));
        assertPortalRedirect(stack, response, 302, target);
        assert.equal(seen.length, 0);
      });

      it(`is sent to the portal after a POST with ${expected.anonymousPost}, and the app is not contacted`, async () => {
        const target = stack.url('app', '/form');
        const { response, seen } = await upstreamRequestsDuring(stack, () =>
          browse(stack, target, new CookieJar(), { method: 'POST', body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
        );
        assertPortalRedirect(stack, response, expected.anonymousPost, target, 'POST');
        assert.equal(seen.length, 0);
      });

      it(`gets ${expected.apiClient} when it does not accept HTML (an API client)`, async () => {
        const { response, seen } = await upstreamRequestsDuring(stack, () =>
          request(stack.url('app', '/api/items'), { ca: stack.ca, headers: { accept: 'application/json' } }),
        );
        assert.equal(response.status, expected.apiClient);
        assert.equal(seen.length, 0);
      });

      it('reaches a bypass site, and the app sees no identity', async () => {
        const { response, seen } = await upstreamRequestsDuring(stack, () => browse(stack, stack.url('public', '/'), new CookieJar()));
        assert.equal(response.status, 200);
        const upstream = onlyRequest(seen);
        for (const header of ['remote-user', 'remote-groups', 'remote-name', 'remote-email']) {
          assert.ok(!upstream.headers[header], `${header} should be absent or empty, got ${JSON.stringify(upstream.headers[header])}`);
        }
      });

      it('cannot hand the app an identity by sending Remote-* headers itself (bypass site)', async () => {
        const spoof = { 'remote-user': 'admin', 'REMOTE-GROUPS': 'admins', 'Remote_User': 'admin', 'remote_groups': 'admins' };
        const { response, seen } = await upstreamRequestsDuring(stack, () =>
          browse(stack, stack.url('public', '/'), new CookieJar(), { headers: spoof }),
        );
        assert.equal(response.status, 200);
        const upstream = onlyRequest(seen);
        assert.ok(!upstream.headers['remote-user'], `remote-user reached the app: ${JSON.stringify(upstream.headers['remote-user'])}`);
        assert.ok(!upstream.headers['remote-groups'], `remote-groups reached the app: ${JSON.stringify(upstream.headers['remote-groups'])}`);
        assert.equal(upstream.headers['remote_user'], undefined, 'the underscore spelling (read as Remote-User by PHP/WSGI) reached the app');
        assert.equal(upstream.headers['remote_groups'], undefined);
      });

      it('cannot get into a protected site by sending Remote-User', async () => {
        const target = stack.url('app', '/');
        const { response, seen } = await upstreamRequestsDuring(stack, () =>
          browse(stack, target, new CookieJar(), { headers: { 'remote-user': 'alice', 'remote-groups': 'dev' } }),
        );
        assertPortalRedirect(stack, response, 302, target);
        assert.equal(seen.length, 0);
      });
    });

    describe('logging in through the portal', () => {
      it('POST /api/firstfactor answers OK and sets the session cookie for example.test, Secure and HttpOnly', async () => {
        const response = await request(stack.url('auth', '/api/firstfactor'), {
          method: 'POST',
          ca: stack.ca,
          headers: { origin: stack.url('auth', ''), accept: 'application/json' },
          json: { username: 'alice', password, keepMeLoggedIn: false },
        });
        assert.equal(response.status, 200, `login failed: ${response.body}\n--- gateway ---\n${stack.gatewayLogs()}`);
        assert.deepEqual(response.json<{ status: string }>().status, 'OK');
        const cookie = response.cookies.find((candidate) => candidate.name === sessionCookie);
        assert.ok(cookie, `no ${sessionCookie} cookie in ${JSON.stringify(response.headers['set-cookie'])}`);
        assert.equal(String(cookie.attributes['domain']).replace(/^\./, ''), 'example.test');
        assert.equal(cookie.attributes['secure'], true);
        assert.equal(cookie.attributes['httponly'], true);
        jar.store(response);
      });
    });

    describe('a logged-in user', () => {
      it('reaches the protected app, which sees their identity in the Remote-* headers', async () => {
        const { response, seen } = await upstreamRequestsDuring(stack, () => browse(stack, stack.url('app', '/dashboard?x=1'), jar));
        assert.equal(response.status, 200);
        const upstream = onlyRequest(seen);
        assert.equal(upstream.url, '/dashboard?x=1');
        assert.equal(upstream.headers['remote-user'], 'alice');
        assert.equal(upstream.headers['remote-groups'], 'dev');
        assert.equal(upstream.headers['remote-name'], 'Alice');
        assert.equal(upstream.headers['remote-email'], 'alice@example.test');
      });

      it('cannot pose as someone else by sending Remote-User', async () => {
        const { response, seen } = await upstreamRequestsDuring(stack, () =>
          browse(stack, stack.url('app', '/'), jar, { headers: { 'remote-user': 'admin', 'remote-groups': 'admins' } }),
        );
        assert.equal(response.status, 200);
        const upstream = onlyRequest(seen);
        assert.equal(upstream.headers['remote-user'], 'alice');
        assert.equal(upstream.headers['remote-groups'], 'dev');
      });

      it('gets 403 on a site whose rule needs a group they are not in (even claiming it), and the app is not contacted', async () => {
        const { response, seen } = await upstreamRequestsDuring(stack, () =>
          browse(stack, stack.url('admin', '/'), jar, { headers: { 'remote-groups': 'admins' } }),
        );
        assert.equal(response.status, 403);
        assert.equal(seen.length, 0);
      });
    });

    describe('logging out', () => {
      it('POST /api/logout answers OK', async () => {
        cookieBeforeLogout = jar.get(sessionCookie);
        assert.ok(cookieBeforeLogout, 'not logged in: the login test failed');
        const response = await request(stack.url('auth', '/api/logout'), {
          method: 'POST',
          ca: stack.ca,
          headers: { origin: stack.url('auth', ''), accept: 'application/json', ...jar.headers() },
          json: {},
        });
        assert.equal(response.status, 200, response.body);
        assert.equal(response.json<{ status: string }>().status, 'OK');
        jar.store(response);
      });

      it('sends the user back to the portal, even if the old cookie is presented again', async () => {
        assert.ok(cookieBeforeLogout, 'not logged in: the login test failed');
        const replayed = new CookieJar();
        replayed.set(sessionCookie, cookieBeforeLogout);
        const target = stack.url('app', '/dashboard');
        for (const cookies of [jar, replayed]) {
          const { response, seen } = await upstreamRequestsDuring(stack, () => browse(stack, target, cookies));
          assertPortalRedirect(stack, response, 302, target);
          assert.equal(seen.length, 0);
        }
      });
    });
  });
}

describe('the shipped examples load as users copy them', () => {
  it('nginx/site.conf.example passes nginx -t (snippets from the repository, a real certificate)', async () => {
    requireBinary('nginx', 'nginx-light');
    const temp = await makeTempDir('gatehouse-nginx-example-');
    const cert = await makeCertificate(['auth.example.com', 'app.example.com']);
    try {
      const example = await readFile(repoPath('nginx', 'site.conf.example'), 'utf8');
      const config = example
        .replaceAll('/etc/nginx/snippets/', `${repoPath('nginx', 'snippets')}/`)
        .replaceAll('/etc/ssl/example.com/fullchain.pem', cert.certPath)
        .replaceAll('/etc/ssl/example.com/privkey.pem', cert.keyPath);
      const directives = config.split('\n').filter((line) => !line.trimStart().startsWith('#'));
      assert.deepEqual(directives.filter((line) => line.includes('/etc/')), [], 'every path in the example was replaced');
      await checkNginxConfig({ dir: temp.dir, config });
    } finally {
      await cert.cleanup();
      await temp.cleanup();
    }
  });

  it('caddy/Caddyfile.example passes caddy validate', async () => {
    requireBinary('caddy', 'caddy');
    const temp = await makeTempDir('gatehouse-caddy-example-');
    try {
      await validateCaddyfile(repoPath('caddy', 'Caddyfile.example'), temp.dir);
    } finally {
      await temp.cleanup();
    }
  });
});
