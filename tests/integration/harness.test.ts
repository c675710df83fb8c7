// Self-test of tests/helpers: real nginx, Caddy and redis-server on free ports, TLS with a
// throwaway certificate, hostnames mapped to 127.0.0.1. If this fails, other integration tests
// would fail for reasons that have nothing to do with Gatehouse.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { requireBinary } from '../helpers/binaries.ts';
import { startCaddy } from '../helpers/caddy.ts';
import { startEchoUpstream, type EchoedRequest, type EchoUpstream } from '../helpers/echo-upstream.ts';
import { startGatewayProcess } from '../helpers/gateway.ts';
import { CookieJar, parseSetCookie, request } from '../helpers/http.ts';
import { nginxSnippet, startNginx } from '../helpers/nginx.ts';
import { freePort } from '../helpers/ports.ts';
import { pingRedis, startRedis } from '../helpers/redis.ts';
import { makeCertificate, type TestCertificate } from '../helpers/tls.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const hostnames = ['one.example.test', 'two.example.test'];

function processGroupIsGone(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function lastRequest(echo: EchoUpstream): EchoedRequest {
  const last = echo.requests.at(-1);
  assert.ok(last, 'the upstream received no request');
  return last;
}

describe('requireBinary', () => {
  it('returns the path of an installed binary', () => {
    assert.match(requireBinary('openssl', 'openssl'), /\/openssl$/);
  });

  it('names the Debian package to install when the binary is missing', () => {
    assert.throws(() => requireBinary('gatehouse-no-such-binary', 'gatehouse-pkg'), {
      message: 'gatehouse-no-such-binary not found: install the Debian package gatehouse-pkg (apt-get install gatehouse-pkg)',
    });
  });
});

describe('request() over TLS trusts only the test certificate, with every hostname on 127.0.0.1', () => {
  let cert: TestCertificate;
  let server: Server;
  let port: number;
  const seenHosts: string[] = [];

  before(async () => {
    cert = await makeCertificate(hostnames);
    server = createHttpsServer({ cert: cert.certPem, key: await readFile(cert.keyPath) }, (req, res) => {
      seenHosts.push(req.headers.host ?? '');
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await cert?.cleanup();
  });

  it('reaches a name in the certificate, sending that name as Host', async () => {
    const response = await request(`https://two.example.test:${port}/hello`, { ca: cert.certPem });
    assert.equal(response.status, 200);
    assert.equal(response.body, 'ok');
    assert.equal(seenHosts.at(-1), `two.example.test:${port}`);
  });

  it('rejects a name the certificate does not cover', async () => {
    await assert.rejects(request(`https://three.example.test:${port}/`, { ca: cert.certPem }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('rejects the certificate when it is not given as the CA', async () => {
    await assert.rejects(request(`https://one.example.test:${port}/`), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });
});

describe('nginx in front of the echo upstream', () => {
  let cert: TestCertificate;
  let echo: EchoUpstream;
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let port: number;
  let nginx: Awaited<ReturnType<typeof startNginx>>;

  before(async () => {
    cert = await makeCertificate(hostnames);
    echo = await startEchoUpstream();
    temp = await makeTempDir('gatehouse-harness-nginx-');
    port = await freePort();
    nginx = await startNginx({
      dir: temp.dir,
      config: `
map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
server {
    listen 127.0.0.1:${port} ssl;
    server_name ${hostnames.join(' ')};
    ssl_certificate ${cert.certPath};
    ssl_certificate_key ${cert.keyPath};
    location / {
        include ${nginxSnippet('proxy.conf')};
        proxy_pass ${echo.url};
    }
}`,
    });
  });
  after(async () => {
    await nginx?.stop();
    await echo?.close();
    await cert?.cleanup();
    await temp?.cleanup();
  });

  it('proxies over TLS with the headers of snippets/proxy.conf', async () => {
    const response = await request(`https://one.example.test:${port}/a/b?c=d`, {
      ca: cert.certPem,
      method: 'POST',
      json: { x: 1 },
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    assert.equal(response.status, 200);
    const seen = lastRequest(echo);
    assert.deepEqual(response.json(), seen);
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/a/b?c=d');
    assert.equal(seen.body, '{"x":1}');
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    // $host: the host nginx routed on (from the request line when absolute-form), without the port
    assert.equal(seen.headers['x-forwarded-host'], 'one.example.test');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1', 'a client-sent X-Forwarded-For is overwritten');
    assert.equal(seen.headers['connection'], undefined, 'no Connection header without an upgrade');
  });

  it('rejects a config that nginx -t rejects, with its message', async () => {
    const bad = await makeTempDir('gatehouse-harness-nginx-bad-');
    try {
      await assert.rejects(startNginx({ dir: bad.dir, config: 'server { listen 127.0.0.1:1; no_such_directive on; }' }), /unknown directive "no_such_directive"/);
    } finally {
      await bad.cleanup();
    }
  });

  it('leaves no nginx process behind after stop()', async () => {
    await nginx.stop();
    assert.ok(processGroupIsGone(nginx.pid), 'master or workers still running');
  });
});

describe('Caddy in front of the echo upstream', () => {
  let cert: TestCertificate;
  let echo: EchoUpstream;
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let port: number;
  let caddy: Awaited<ReturnType<typeof startCaddy>>;

  before(async () => {
    cert = await makeCertificate(hostnames);
    echo = await startEchoUpstream();
    temp = await makeTempDir('gatehouse-harness-caddy-');
    port = await freePort();
    caddy = await startCaddy({
      dir: temp.dir,
      caddyfile: `https://one.example.test:${port} {\n\ttls ${cert.certPath} ${cert.keyPath}\n\treverse_proxy ${echo.url}\n}\n`,
    });
  });
  after(async () => {
    await caddy?.stop();
    await echo?.close();
    await cert?.cleanup();
    await temp?.cleanup();
  });

  it('proxies over TLS and sets X-Forwarded-* itself', async () => {
    const response = await request(`https://one.example.test:${port}/x`, { ca: cert.certPem, headers: { 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(response.status, 200);
    const seen = lastRequest(echo);
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers['x-forwarded-host'], `one.example.test:${port}`);
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1', 'a client-sent X-Forwarded-For is overwritten');
  });

  it('leaves no caddy process behind after stop()', async () => {
    await caddy.stop();
    assert.ok(processGroupIsGone(caddy.pid));
  });
});

describe('startRedis', () => {
  it('answers PING, keeps its port across restart(), and is gone after stop()', async () => {
    const redis = await startRedis();
    try {
      assert.equal(await pingRedis(redis.host, redis.port), true);
      const firstPid = redis.pid;
      await redis.restart();
      assert.notEqual(redis.pid, firstPid);
      assert.equal(await pingRedis(redis.host, redis.port), true);
    } finally {
      await redis.stop();
    }
    assert.equal(await pingRedis(redis.host, redis.port), false);
    assert.ok(processGroupIsGone(redis.pid));
  });
});

describe('startGatewayProcess', () => {
  it('fails fast with the process output when the gateway exits during startup', async () => {
    const temp = await makeTempDir('gatehouse-harness-gateway-');
    try {
      const port = await freePort();
      const started = Date.now();
      await assert.rejects(
        startGatewayProcess({ dir: temp.dir, configYaml: `server: { address: 'tcp://127.0.0.1:${port}' }\nno_such_section: true\n` }),
        /gatehouse gateway exited during startup/,
      );
      assert.ok(Date.now() - started < 10_000, 'it waited for the deadline instead of noticing the exit');
    } finally {
      await temp.cleanup();
    }
  });
});

describe('CookieJar', () => {
  it('stores, replaces and deletes cookies as a browser would, and sends them back', () => {
    const jar = new CookieJar();
    jar.store({ cookies: [parseSetCookie('a=1; Path=/; HttpOnly'), parseSetCookie('b=2; Domain=example.test; Secure')] });
    assert.deepEqual(jar.headers(), { cookie: 'a=1; b=2' });
    jar.store({ cookies: [parseSetCookie('a=3'), parseSetCookie('b=; Max-Age=0')] });
    assert.deepEqual(jar.headers(), { cookie: 'a=3' });
    jar.store({ cookies: [parseSetCookie('a=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT')] });
    assert.deepEqual(jar.headers(), {});
  });

  it('parses Set-Cookie attributes', () => {
    assert.deepEqual(parseSetCookie('gatehouse_session=abc=; Domain=example.test; Secure; HttpOnly; SameSite=Lax'), {
      name: 'gatehouse_session',
      value: 'abc=',
      attributes: { domain: 'example.test', secure: true, httponly: true, samesite: 'Lax' },
    });
  });
});
