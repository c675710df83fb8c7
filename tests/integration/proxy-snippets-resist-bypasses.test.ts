// ways past forward auth through the shipped proxy configurations.
// Each test states what an attacker sends and asserts that the protected app is NOT reached.
// (They fail while the hole is open.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import { caddySnippet, startCaddy } from '../helpers/caddy.ts';
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.ts';
import { request } from '../helpers/http.ts';
import { startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { nginxSnippet, startNginx, type NginxServer } from '../helpers/nginx.ts';
import { freePort } from '../helpers/ports.ts';
import { repoPath } from '../helpers/repo.ts';
import { makeCertificate, type TestCertificate } from '../helpers/tls.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const HOSTS = ['auth.example.test', 'app.example.test', 'public.example.test'];
const RULES = {
  access_control: {
    default_policy: 'deny',
    rules: [
      { domain: 'public.example.test', policy: 'bypass' },
      { domain: 'app.example.test', policy: 'one_factor' },
    ],
  },
};

/** One raw HTTP/1.1 request over TLS, exactly as written (request line and headers are ours). */
function rawTls(port: number, servername: string, ca: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ca }, () => socket.write(text));
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (out += chunk));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}

describe('nginx (shipped snippets, site.conf.example shape): X-Original-URL is built from $http_host', { timeout: 60_000 }, () => {
  let gw: InProcessGateway;
  let protectedApp: EchoUpstream;
  let publicApp: EchoUpstream;
  let cert: TestCertificate;
  let nginx: NginxServer;
  let temp: { dir: string; cleanup: () => Promise<void> };
  let port: number;

  before(async () => {
    gw = await startInProcessGateway({ config: RULES, users: { alice: { password: 'alice-password' } } });
    protectedApp = await startEchoUpstream();
    publicApp = await startEchoUpstream();
    cert = await makeCertificate(HOSTS);
    temp = await makeTempDir('bypass-nginx-');
    port = await freePort();
    const tls = `ssl_certificate ${cert.certPath};\n    ssl_certificate_key ${cert.keyPath};`;
    nginx = await startNginx({
      dir: join(temp.dir, 'nginx'),
      config: `
upstream gatehouse { server 127.0.0.1:${gw.port}; keepalive 16; }
map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
server {
    listen 127.0.0.1:${port} ssl;
    server_name app.example.test;
    ${tls}
    include ${nginxSnippet('gatehouse-location.conf')};
    location / {
        include ${nginxSnippet('proxy.conf')};
        include ${nginxSnippet('gatehouse-authrequest.conf')};
        proxy_pass ${protectedApp.url};
    }
}
server {
    listen 127.0.0.1:${port} ssl;
    server_name public.example.test;
    ${tls}
    include ${nginxSnippet('gatehouse-location.conf')};
    location / {
        include ${nginxSnippet('proxy.conf')};
        include ${nginxSnippet('gatehouse-authrequest.conf')};
        proxy_pass ${publicApp.url};
    }
}`,
    });
  });
  after(async () => {
    await nginx?.stop();
    await gw?.close();
    await protectedApp?.close();
    await publicApp?.close();
    await cert?.cleanup();
    await temp?.cleanup();
  });

  it('baseline: anonymous GET of the protected app is sent to the portal', async () => {
    const r = await request(`https://app.example.test:${port}/secret`, { ca: cert.certPem, headers: { accept: 'text/html' } });
    assert.equal(r.status, 302);
    assert.equal(protectedApp.requests.length, 0);
  });

  it('absolute-form request line (server chosen by it) + Host of a bypass site does not reach the protected app', async () => {
    // nginx picks the server{} and $host from the request line; $http_host (used in X-Original-URL) is the Host header
    const reply = await rawTls(port, 'app.example.test', cert.certPem,
      `GET https://app.example.test/secret HTTP/1.1\r\nHost: public.example.test\r\nConnection: close\r\n\r\n`);
    const reached = protectedApp.requests.filter((r) => r.url === '/secret');
    assert.equal(reached.length, 0, `the protected app was reached anonymously:\n${reply.slice(0, 400)}`);
  });

  it('HTTP/1.0 without Host (default server = the protected app): X-Original-URL https:///<bypass host>/… is refused', async () => {
    // $http_host is empty, so X-Original-URL is `https:///public.example.test/x`; WHATWG URL takes the
    // first path segment as the host. With `root` (static files) nginx would serve /x itself.
    const before = protectedApp.requests.length;
    const reply = await rawTls(port, 'app.example.test', cert.certPem, `GET /public.example.test/x HTTP/1.0\r\n\r\n`);
    assert.equal(protectedApp.requests.length - before, 0, `the protected app was reached anonymously:\n${reply.slice(0, 300)}`);
  });
});

describe('Caddy with the legacy endpoint (Authelia 4.37-style `uri /api/verify?rd=`): client X-Original-URL', { timeout: 60_000 }, () => {
  let gw: InProcessGateway;
  let protectedApp: EchoUpstream;
  let cert: TestCertificate;
  let caddy: Awaited<ReturnType<typeof startCaddy>>;
  let temp: { dir: string; cleanup: () => Promise<void> };
  let port: number;

  before(async () => {
    gw = await startInProcessGateway({ config: RULES, users: { alice: { password: 'alice-password' } } });
    protectedApp = await startEchoUpstream();
    cert = await makeCertificate(HOSTS);
    temp = await makeTempDir('bypass-caddy-');
    port = await freePort();
    const shipped = await caddySnippet(repoPath('caddy', 'Caddyfile.example'), 'gatehouse');
    const snippet = shipped
      .replace('127.0.0.1:9091', `127.0.0.1:${gw.port}`)
      .replace('uri /api/authz/forward-auth', `uri /api/verify?rd=https://auth.example.test:${port}/`);
    caddy = await startCaddy({
      dir: join(temp.dir, 'caddy'),
      caddyfile: `${snippet}

https://app.example.test:${port} {
	tls ${cert.certPath} ${cert.keyPath}
	import gatehouse
	reverse_proxy ${protectedApp.url}
}
`,
    });
  });
  after(async () => {
    await caddy?.stop();
    await gw?.close();
    await protectedApp?.close();
    await cert?.cleanup();
    await temp?.cleanup();
  });

  it('baseline: anonymous GET is sent to the portal', async () => {
    const r = await request(`https://app.example.test:${port}/secret`, { ca: cert.certPem, headers: { accept: 'text/html' } });
    assert.equal(r.status, 302);
    assert.equal(protectedApp.requests.length, 0);
  });

  it('a client-sent X-Original-URL naming a bypass host does not override the X-Forwarded-* Caddy set', async () => {
    const r = await request(`https://app.example.test:${port}/secret`, {
      ca: cert.certPem,
      headers: { accept: 'text/html', 'x-original-url': 'https://public.example.test/' },
    });
    assert.notEqual(r.status, 200, 'Caddy forwarded the request to the protected app anonymously');
    assert.equal(protectedApp.requests.length, 0);
  });
});

/** An Express app (as many upstreams are): everything under /admin is the admin area. */
async function startExpressApp(): Promise<{ url: string; adminHits: string[]; close(): Promise<void> }> {
  const adminHits: string[] = [];
  const app = express();
  app.use('/admin', (req, res) => {
    adminHits.push(req.originalUrl);
    res.send('admin area');
  });
  app.use('/public', (_req, res) => res.send('public'));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    adminHits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('nginx (shipped snippets) + an Express app: dot segments are resolved by Gatehouse but forwarded raw', { timeout: 60_000 }, () => {
  let gw: InProcessGateway;
  let app: Awaited<ReturnType<typeof startExpressApp>>;
  let cert: TestCertificate;
  let nginx: NginxServer;
  let temp: { dir: string; cleanup: () => Promise<void> };
  let port: number;

  before(async () => {
    gw = await startInProcessGateway({
      config: {
        access_control: {
          default_policy: 'deny',
          rules: [
            { domain: 'app.example.test', resources: ['^/public/'], policy: 'bypass' },
            { domain: 'app.example.test', policy: 'one_factor' },
          ],
        },
      },
    });
    app = await startExpressApp();
    cert = await makeCertificate(['app.example.test']);
    temp = await makeTempDir('bypass-nginx-path-');
    port = await freePort();
    nginx = await startNginx({
      dir: join(temp.dir, 'nginx'),
      config: `
upstream gatehouse { server 127.0.0.1:${gw.port}; keepalive 16; }
map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
server {
    listen 127.0.0.1:${port} ssl;
    server_name app.example.test;
    ssl_certificate ${cert.certPath};
    ssl_certificate_key ${cert.keyPath};
    include ${nginxSnippet('gatehouse-location.conf')};
    location / {
        include ${nginxSnippet('proxy.conf')};
        include ${nginxSnippet('gatehouse-authrequest.conf')};
        proxy_pass ${app.url};
    }
}`,
    });
  });
  after(async () => {
    await nginx?.stop();
    await gw?.close();
    await app?.close();
    await cert?.cleanup();
    await temp?.cleanup();
  });

  for (const path of ['/admin/../public/x', '/admin/%2e%2e/public/x']) {
    it(`anonymous ${path} does not reach the admin area`, async () => {
      const before = app.adminHits.length;
      const reply = await rawTls(port, 'app.example.test', cert.certPem,
        `GET ${path} HTTP/1.1\r\nHost: app.example.test\r\nConnection: close\r\n\r\n`);
      assert.equal(app.adminHits.length - before, 0, `admin area served anonymously: ${reply.split('\r\n')[0]} ${JSON.stringify(app.adminHits.slice(before))}`);
    });
  }
});
