// An Authelia 4.37 user switches to Gatehouse without touching anything: their configuration.yml
// (legacy keys only: session.domain, no authelia_url), their users_database.yml ($6$ SHA-crypt
// hashes), and their nginx as Authelia's docs had it (the 4.37 /api/verify snippets, and the 4.38
// /api/authz/auth-request ones with the "Legacy Method" redirect). The portal's URL comes from each
// request (nginx's X-Forwarded-Proto and -Host), the proxies' redirects from their own rd.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireBinary } from '../helpers/binaries.ts';
import { startEchoUpstream, type EchoedRequest, type EchoUpstream } from '../helpers/echo-upstream.ts';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway.ts';
import { CookieJar, request, type HttpResponse, type RequestOptions } from '../helpers/http.ts';
import { startNginx, type NginxServer } from '../helpers/nginx.ts';
import { freePort } from '../helpers/ports.ts';
import { makeCertificate } from '../helpers/tls.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { generateSecret } from '../../lib/secret-strength.ts';

const PASSWORD = 'legacy-journey password 4.37';
/** `openssl passwd -6 -salt Kd8sP2wQ9xLm4Rt 'legacy-journey password 4.37'`: how 4.37 users made their hashes. */
const SHA512_CRYPT = '$6$Kd8sP2wQ9xLm4Rt$/bEKEDh2Zfr0sQr9m81k.RgLKu2gg55zrOLVvjwpJGvBTZ0ErfRVI.J8ufOn0tnGBsLryc2Bl8cq69QsBD8wQ.';
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/** configuration.yml as an Authelia 4.37 user wrote it (file paths and ports are the test's). */
function autheliaConfiguration(o: { dir: string; gatewayPort: number; verifyPort: number }): string {
  return `---
###############################################################
#                   Authelia configuration                    #
###############################################################

jwt_secret: ${generateSecret()}
default_redirection_url: https://public.example.test:${o.verifyPort}/

server:
  host: 127.0.0.1
  port: ${o.gatewayPort}

log:
  level: info

totp:
  issuer: example.test
  period: 30
  skew: 1

authentication_backend:
  password_reset:
    disable: false
  refresh_interval: 5m
  file:
    path: ${o.dir}/users_database.yml
    password:
      algorithm: sha512
      iterations: 50000
      salt_length: 16

access_control:
  default_policy: deny
  rules:
    - domain: public.example.test
      policy: bypass
    - domain: app.example.test
      policy: one_factor
    - domain: secure.example.test
      policy: two_factor

session:
  name: authelia_session
  domain: example.test
  secret: ${generateSecret()}
  expiration: 3600
  inactivity: 300
  remember_me_duration: 1M

regulation:
  max_retries: 3
  find_time: 2m
  ban_time: 5m

storage:
  encryption_key: ${generateSecret()}
  local:
    path: ${o.dir}/db.sqlite3

notifier:
  filesystem:
    filename: ${o.dir}/notification.txt
`;
}

const USERS_DATABASE = `---
users:
  john:
    displayname: "John Doe"
    password: "${SHA512_CRYPT}"
    email: john@example.test
    groups:
      - admins
      - dev
`;

/** Authelia 4.37 docs, proxy.conf ("Headers Only Variant"). */
const PROXY_CONF = `
proxy_set_header Host $host;
proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
proxy_set_header X-Forwarded-Proto $scheme;
proxy_set_header X-Forwarded-Host $http_host;
proxy_set_header X-Forwarded-Uri $request_uri;
proxy_set_header X-Forwarded-Ssl on;
proxy_set_header X-Forwarded-For $remote_addr;
`;

/** Authelia 4.37 docs, authelia-location.conf (/api/verify); 4.38 docs: the same for /api/authz/auth-request. */
function locationConf(o: { gatewayPort: number; variant: 'verify' | 'auth-request' }): string {
  const [upstream, location] = o.variant === 'verify' ? ['/api/verify', '/authelia'] : ['/api/authz/auth-request', '/internal/authelia/authz'];
  const forwarded =
    o.variant === 'verify'
      ? `    proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
    proxy_set_header X-Original-Method $request_method;
    proxy_set_header X-Forwarded-Method $request_method;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Host $http_host;
    proxy_set_header X-Forwarded-Uri $request_uri;
    proxy_set_header X-Forwarded-For $remote_addr;`
      : `    proxy_set_header X-Original-Method $request_method;
    proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
    proxy_set_header X-Forwarded-For $remote_addr;`;
  return `
set $upstream_authelia http://127.0.0.1:${o.gatewayPort}${upstream};

location ${location} {
    internal;
    proxy_pass $upstream_authelia;
${forwarded}
    proxy_set_header Content-Length "";
    proxy_set_header Connection "";
    proxy_pass_request_body off;
    proxy_next_upstream error timeout invalid_header http_500 http_502 http_503;
    proxy_redirect http:// $scheme://;
    proxy_http_version 1.1;
    proxy_cache_bypass $cookie_session;
    proxy_no_cache $cookie_session;
    proxy_buffers 4 32k;
    client_body_buffer_size 128k;
}
`;
}

/**
 * authelia-authrequest.conf: 4.37's, and 4.38's with the "Legacy Method" lines uncommented (the portal
 * written in nginx). nginx-light has no set_misc, so `set` replaces set_escape_uri, as the docs say.
 */
function authrequestConf(o: { portal: string; variant: 'verify' | 'auth-request' }): string {
  return `
auth_request ${o.variant === 'verify' ? '/authelia' : '/internal/authelia/authz'};
set $target_url $scheme://$http_host$request_uri;
auth_request_set $user $upstream_http_remote_user;
auth_request_set $groups $upstream_http_remote_groups;
auth_request_set $name $upstream_http_remote_name;
auth_request_set $email $upstream_http_remote_email;
proxy_set_header Remote-User $user;
proxy_set_header Remote-Groups $groups;
proxy_set_header Remote-Name $name;
proxy_set_header Remote-Email $email;
error_page 401 =302 ${o.portal}?rd=$target_url;
`;
}

interface Journey {
  gateway: GatewayProcess;
  nginx: NginxServer;
  echo: EchoUpstream;
  ca: string;
  dir: string;
  verifyPort: number;
  authzPort: number;
  /** https://auth.example.test:<verifyPort>/ */
  portal: string;
  stop(): Promise<void>;
}

async function startJourney(): Promise<Journey> {
  requireBinary('nginx', 'nginx-light');
  requireBinary('openssl', 'openssl');
  const cleanups: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
  try {
    const temp = await makeTempDir('gatehouse-authelia-journey-');
    cleanups.push(temp.cleanup);
    const dir = temp.dir;
    const cert = await makeCertificate(['auth.example.test', 'app.example.test', 'secure.example.test', 'public.example.test']);
    cleanups.push(cert.cleanup);
    const echo = await startEchoUpstream();
    cleanups.push(echo.close);
    const [gatewayPort, verifyPort, authzPort] = [await freePort(), await freePort(), await freePort()];
    const portal = `https://auth.example.test:${verifyPort}/`;

    await writeFile(join(dir, 'users_database.yml'), USERS_DATABASE, { mode: 0o600 });
    const gateway = await startGatewayProcess({ dir, configYaml: autheliaConfiguration({ dir, gatewayPort, verifyPort }) });
    cleanups.push(gateway.stop);

    const snippets = join(dir, 'snippets');
    await mkdir(snippets);
    const files: Record<string, string> = {
      'proxy.conf': PROXY_CONF,
      'verify-location.conf': locationConf({ gatewayPort, variant: 'verify' }),
      'verify-authrequest.conf': authrequestConf({ portal, variant: 'verify' }),
      'authz-location.conf': locationConf({ gatewayPort, variant: 'auth-request' }),
      'authz-authrequest.conf': authrequestConf({ portal, variant: 'auth-request' }),
    };
    for (const [name, text] of Object.entries(files)) await writeFile(join(snippets, name), text);
    const tls = `ssl_certificate ${cert.certPath};\n    ssl_certificate_key ${cert.keyPath};`;
    const apps = 'public.example.test app.example.test secure.example.test';
    const nginx = await startNginx({
      dir: join(dir, 'nginx'),
      config: `
# the portal, as in Authelia's 4.37 docs (auth.conf)
server {
    listen 127.0.0.1:${verifyPort} ssl;
    server_name auth.example.test;
    ${tls}
    set $upstream http://127.0.0.1:${gatewayPort};
    location / {
        include ${snippets}/proxy.conf;
        proxy_pass $upstream;
    }
    location /api/verify {
        proxy_pass $upstream;
    }
}
# the apps behind 4.37's /api/verify
server {
    listen 127.0.0.1:${verifyPort} ssl;
    server_name ${apps};
    ${tls}
    include ${snippets}/verify-location.conf;
    set $upstream ${echo.url};
    location / {
        include ${snippets}/proxy.conf;
        include ${snippets}/verify-authrequest.conf;
        proxy_pass $upstream;
    }
}
# the same apps behind 4.38's /api/authz/auth-request (Legacy Method redirect)
server {
    listen 127.0.0.1:${authzPort} ssl;
    server_name ${apps};
    ${tls}
    include ${snippets}/authz-location.conf;
    set $upstream ${echo.url};
    location / {
        include ${snippets}/proxy.conf;
        include ${snippets}/authz-authrequest.conf;
        proxy_pass $upstream;
    }
}
`,
    });
    cleanups.push(nginx.stop);
    return { gateway, nginx, echo, ca: cert.certPem, dir, verifyPort, authzPort, portal, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

describe('an Authelia 4.37 setup, unchanged, behind nginx', { timeout: 60_000 }, () => {
  let j: Journey;
  const jar = new CookieJar();
  before(async () => {
    j = await startJourney();
  });
  after(async () => {
    await j?.stop();
  });

  const browse = (url: string, cookies: CookieJar, options: RequestOptions = {}): Promise<HttpResponse> =>
    request(url, { ...options, ca: j.ca, headers: { accept: BROWSER_ACCEPT, ...cookies.headers(), ...options.headers } });
  const site = (name: string, port: number, path = '/') => new URL(`https://${name}.example.test:${port}${path}`).href;
  async function upstreamDuring(action: () => Promise<HttpResponse>): Promise<{ response: HttpResponse; seen: EchoedRequest[] }> {
    const before = j.echo.requests.length;
    const response = await action();
    return { response, seen: j.echo.requests.slice(before) };
  }
  function assertToPortal(response: HttpResponse, target: string): void {
    assert.equal(response.status, 302, `expected a redirect to the portal, got ${response.status}: ${response.body.slice(0, 200)}`);
    const location = new URL(response.headers.location ?? '');
    assert.equal(`${location.origin}${location.pathname}`, j.portal);
    assert.equal(location.searchParams.get('rd'), target);
  }

  it('the gateway starts and says what is deprecated, and that authelia_url is recommended', () => {
    const logs = j.gateway.logs();
    for (const line of [
      'config: session.domain: is deprecated; use session.cookies[].domain instead',
      'config: default_redirection_url: is deprecated; use session.cookies[].default_redirection_url instead',
      'config: jwt_secret: is deprecated; use identity_validation.reset_password.jwt_secret instead',
      'config: server.host: is deprecated; use server.address instead',
      "config: session.domain: has no portal URL: Gatehouse takes the portal's URL from each request",
      'moving to session.cookies with authelia_url (for example https://auth.example.test/) is recommended',
    ]) {
      assert.ok(logs.includes(line), `the startup output lacks "${line}":\n${logs}`);
    }
  });

  for (const variant of ['verify', 'auth-request'] as const) {
    describe(`anonymous, behind the ${variant === 'verify' ? '4.37 /api/verify' : '4.38 /api/authz/auth-request'} snippets`, () => {
      const port = () => (variant === 'verify' ? j.verifyPort : j.authzPort);

      it('a bypass site reaches the app, with no identity', async () => {
        const { response, seen } = await upstreamDuring(() => browse(site('public', port()), new CookieJar()));
        assert.equal(response.status, 200);
        assert.equal(seen.length, 1);
        assert.ok(!seen[0]!.headers['remote-user']);
      });

      it("a protected site sends the browser to the portal with rd (nginx's error_page), and the app is not contacted", async () => {
        const target = site('app', port(), '/private');
        const { response, seen } = await upstreamDuring(() => browse(target, new CookieJar()));
        assertToPortal(response, target);
        assert.equal(seen.length, 0);
      });
    });
  }

  describe('the portal, at the URL nginx forwards', () => {
    it('answers /api/state', async () => {
      const response = await browse(`${j.portal}api/state`, new CookieJar(), { headers: { accept: 'application/json' } });
      assert.equal(response.status, 200, response.body);
    });

    it('refuses a login posted from another origin (its own origin is the forwarded one)', async () => {
      const response = await browse(`${j.portal}api/firstfactor`, new CookieJar(), {
        method: 'POST',
        headers: { origin: `https://app.example.test:${j.verifyPort}`, accept: 'application/json' },
        json: { username: 'john', password: PASSWORD },
      });
      assert.equal(response.status, 403, response.body);
    });

    it('signs john in with his $6$ password, as Authelia\'s portal posts it, and sends him back to rd', async () => {
      const target = site('app', j.verifyPort, '/private');
      const response = await browse(`${j.portal}api/firstfactor`, new CookieJar(), {
        method: 'POST',
        headers: { origin: j.portal.replace(/\/$/, ''), accept: 'application/json' },
        json: { username: 'john', password: PASSWORD, keepMeLoggedIn: false, targetURL: target, requestMethod: 'GET' },
      });
      assert.equal(response.status, 200, `${response.body}\n--- gateway ---\n${j.gateway.logs()}`);
      const body = response.json<{ status: string; data?: { redirect?: string } }>();
      assert.equal(body.status, 'OK');
      assert.equal(body.data?.redirect, target);
      const cookie = response.cookies.find((c) => c.name === 'authelia_session');
      assert.ok(cookie, `no authelia_session cookie in ${JSON.stringify(response.headers['set-cookie'])}`);
      assert.equal(String(cookie.attributes['domain']).replace(/^\./, ''), 'example.test');
      assert.equal(cookie.attributes['secure'], true);
      jar.store(response);
    });

    it('mails a reset link on the portal URL the request came through', async () => {
      const response = await browse(`${j.portal}api/reset-password/identity/start`, new CookieJar(), {
        method: 'POST',
        headers: { origin: j.portal.replace(/\/$/, ''), accept: 'application/json' },
        json: { username: 'john' },
      });
      assert.equal(response.status, 200, response.body);
      const file = join(j.dir, 'notification.txt');
      const deadline = Date.now() + 5_000;
      let text = '';
      while (!text.includes('reset-password/finish?token=') && Date.now() < deadline) {
        text = await readFile(file, 'utf8').catch(() => '');
        if (!text.includes('reset-password/finish?token=')) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(text.includes(`${j.portal}reset-password/finish?token=`), `no link on ${j.portal} in:\n${text}`);
    });
  });

  for (const variant of ['verify', 'auth-request'] as const) {
    describe(`signed in (one factor), behind the ${variant === 'verify' ? '4.37 /api/verify' : '4.38 /api/authz/auth-request'} snippets`, () => {
      const port = () => (variant === 'verify' ? j.verifyPort : j.authzPort);

      it('a one_factor site reaches the app, which sees Remote-User and Remote-Groups', async () => {
        const { response, seen } = await upstreamDuring(() => browse(site('app', port(), '/private'), jar));
        assert.equal(response.status, 200, response.body.slice(0, 200));
        assert.equal(seen.length, 1);
        assert.equal(seen[0]!.headers['remote-user'], 'john');
        assert.equal(seen[0]!.headers['remote-groups'], 'admins,dev');
        assert.equal(seen[0]!.headers['remote-name'], 'John Doe');
        assert.equal(seen[0]!.headers['remote-email'], 'john@example.test');
      });

      it('a two_factor site sends him to the portal for his second factor', async () => {
        const target = site('secure', port(), '/');
        const { response, seen } = await upstreamDuring(() => browse(target, jar));
        assertToPortal(response, target);
        assert.equal(seen.length, 0);
      });
    });
  }

  describe('Traefik-style forward auth, straight to the gateway', () => {
    /** What Traefik's forwardAuth sends for a browser's GET of `target`. */
    const forwardAuth = (path: string, target: string, cookies: CookieJar) => {
      const url = new URL(target);
      return request(`${j.gateway.url}${path}`, {
        headers: {
          accept: BROWSER_ACCEPT,
          'x-forwarded-method': 'GET',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': url.host,
          'x-forwarded-uri': `${url.pathname}${url.search}`,
          'x-forwarded-for': '192.0.2.10',
          ...cookies.headers(),
        },
      });
    };
    const verifyWithRd = () => `/api/verify?rd=${encodeURIComponent(j.portal)}`;

    it('/api/verify?rd=…: bypass 200, protected 302 to the portal named in rd', async () => {
      assert.equal((await forwardAuth(verifyWithRd(), site('public', 443), new CookieJar())).status, 200);
      const target = site('app', 443, '/private');
      assertToPortal(await forwardAuth(verifyWithRd(), target, new CookieJar()), target);
    });

    it('/api/verify?rd=… with the session: 200 with Remote-User and Remote-Groups; two_factor still to the portal', async () => {
      const allowed = await forwardAuth(verifyWithRd(), site('app', 443, '/private'), jar);
      assert.equal(allowed.status, 200);
      assert.equal(allowed.headers['remote-user'], 'john');
      assert.equal(allowed.headers['remote-groups'], 'admins,dev');
      const target = site('secure', 443, '/');
      assertToPortal(await forwardAuth(verifyWithRd(), target, jar), target);
    });

    it('without rd, or at /api/authz/forward-auth without authelia_url, the portal is unknown: 401, never a redirect', async () => {
      for (const path of ['/api/verify', '/api/authz/forward-auth']) {
        const response = await forwardAuth(path, site('app', 443, '/private'), new CookieJar());
        assert.equal(response.status, 401, path);
        assert.equal(response.headers.location, undefined, path);
      }
      const named = await forwardAuth(`/api/authz/forward-auth?authelia_url=${encodeURIComponent(j.portal)}`, site('app', 443, '/private'), new CookieJar());
      assertToPortal(named, site('app', 443, '/private'));
    });
  });
});
