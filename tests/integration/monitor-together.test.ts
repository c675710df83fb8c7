/**
 * The monitor behind the gateway, the two ways operators run it:
 * - `gatehouse start` (npm start): one process, the gateway's embedded proxy in front of the monitor,
 *   the portal under /auth/, the identity assertion on;
 * - nginx with the shipped snippets in front of both, the assertion forwarded beside Remote-User.
 * In both, the dashboard shows the gateway user without a second login, and a Remote-User header that
 * did not come from the gateway gets nowhere.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { startMonitor, type Monitor } from '../../monitor/app.ts';
import { parseMonitorConfig } from '../../monitor/config/load.ts';
import { request } from '../helpers/http.ts';
import { login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { nginxSnippet, startNginx } from '../helpers/nginx.ts';
import { freePort, waitForPort } from '../helpers/ports.ts';
import { startService, waitForOutput, type ServiceProcess } from '../helpers/processes.ts';
import { repoPath, repoRoot } from '../helpers/repo.ts';
import { makeCertificate } from '../helpers/tls.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const ADMIN_PASSWORD = 'Admin-password-2026';


describe('npm start: the dashboard at / through the embedded proxy, as the gateway user', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  let service: ServiceProcess;
  let base: string;
  let monitorPort: number;
  let cookie = '';

  before(async () => {
    temp = await makeTempDir('gatehouse-together-');
    const port = await freePort();
    monitorPort = await freePort();
    base = `http://localhost:${port}`;
    service = startService('gatehouse start', process.execPath, [repoPath('bin', 'gatehouse.ts'), 'start'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        GATEHOUSE_DATA: join(temp.dir, 'data'),
        GATEHOUSE_SERVER_ADDRESS: `tcp://127.0.0.1:${port}`,
        GATEHOUSE_MONITOR_SERVER_ADDRESS: `tcp://127.0.0.1:${monitorPort}`,
      },
    });
    const setupUrl = new URL((await waitForOutput(service, /Create the administrator at (\S+)/))[1]!);
    await waitForOutput(service, /monitor listening/);
    const created = await request(`${base}/auth/setup`, {
      method: 'POST',
      headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: setupUrl.searchParams.get('token')!, username: 'admin', displayName: 'The Admin', password: ADMIN_PASSWORD, confirm: ADMIN_PASSWORD }).toString(),
    });
    assert.equal(created.status, 200, created.body);
  });
  after(async () => {
    await service?.stop();
    await temp?.cleanup();
  });

  it('anonymous: / sends the browser to the portal under /auth/', async () => {
    const answer = await request(`${base}/`, { headers: { accept: 'text/html' } });
    assert.equal(answer.status, 302);
    assert.match(answer.headers.location ?? '', new RegExp(`^${base}/auth/\\?rd=`));
  });

  it('after signing in at the portal, / is the monitor dashboard and its API knows the user as full_admin (group admins)', async () => {
    const signIn = await request(`${base}/auth/api/firstfactor`, { method: 'POST', json: { username: 'admin', password: ADMIN_PASSWORD }, headers: { origin: base } });
    assert.equal(signIn.status, 200, signIn.body);
    cookie = `gatehouse_session=${signIn.cookies.find((c) => c.name === 'gatehouse_session')!.value}`;
    const page = await request(`${base}/`, { headers: { cookie, accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(page.body, /<script type="module" src="[^"]*app\.js"/);
    const status = await request(`${base}/api/auth/status`, { headers: { cookie } });
    const body = status.json<{ authenticated: boolean; username: string; via: string; scope: string }>();
    assert.deepEqual({ authenticated: body.authenticated, username: body.username, via: body.via, scope: body.scope }, { authenticated: true, username: 'admin', via: 'remote_user', scope: 'full_admin' });
    assert.equal((await request(`${base}/api/system`, { headers: { cookie } })).status, 200);
    // what the dashboard's fetch sends: a gateway cookie alone is not enough for a POST (cross-site check)
    assert.equal((await request(`${base}/api/terminal/ticket`, { method: 'POST', json: {}, headers: { cookie, 'sec-fetch-site': 'same-origin' } })).status, 200);
    assert.equal((await request(`${base}/api/terminal/ticket`, { method: 'POST', headers: { cookie, origin: 'http://wiki.example.test', 'sec-fetch-site': 'same-site' } })).status, 403);
  });

  it('a Remote-User sent straight to the monitor from a trusted address is refused without the gateway\'s assertion', async () => {
    const forged = await request(`http://127.0.0.1:${monitorPort}/api/system`, { headers: { 'remote-user': 'admin', 'remote-groups': 'admins' } });
    assert.equal(forged.status, 401);
    // the audit line is appended asynchronously: wait for it (bounded)
    const logPath = join(temp.dir, 'data', 'monitor', 'auth.log');
    let audit = '';
    for (let i = 0; i < 40 && !/authentication failure; rhost=127\.0\.0\.1 user=admin/.test(audit); i++) {
      audit = await readFile(logPath, 'utf8').catch(() => '');
      if (!audit.includes('user=admin')) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.match(audit, /authentication failure; rhost=127\.0\.0\.1 user=admin/);
  });

  it('a Remote-User a client sends through the gateway is replaced by the gateway\'s own', async () => {
    const answer = await request(`${base}/api/auth/status`, { headers: { cookie, 'remote-user': 'mallory', remote_user: 'mallory' } });
    assert.equal(answer.json<{ username: string }>().username, 'admin');
  });

  it('the dashboard\'s Sign out ends the gateway session: status names the portal, and its sign-out form (posted from the dashboard\'s origin) signs the browser out of both', async () => {
    const status = await request(`${base}/api/auth/status`, { headers: { cookie } });
    assert.equal(status.json<{ gateway_portal: string }>().gateway_portal, `${base}/auth/`);
    // what the dashboard's form does: a top-level POST to <portal>logout from the same origin
    const out = await request(`${base}/auth/logout`, { method: 'POST', headers: { cookie, origin: base, 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    assert.equal(out.status, 303);
    assert.equal(out.headers.location, '/auth/');
    const after = await request(`${base}/`, { headers: { cookie, accept: 'text/html' } });
    assert.equal(after.status, 302, 'the gateway session is gone: the dashboard sends the browser to sign in again');
    assert.match(after.headers.location ?? '', new RegExp(`^${base}/auth/\\?rd=`));
  });
});

describe('nginx in front of the gateway and the monitor (shipped snippets, assertion forwarded)', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  let gw: InProcessGateway;
  let monitor: Monitor;
  let nginx: { stop(): Promise<void> };
  let ca: string;
  let proxyPort: number;
  const url = (host: string, path = '/') => `https://${host}.example.test:${proxyPort}${path}`;

  before(async () => {
    temp = await makeTempDir('gatehouse-nginx-monitor-');
    proxyPort = await freePort();
    gw = await startInProcessGateway({
      dir: temp.dir,
      users: { alice: { password: ADMIN_PASSWORD, groups: ['admins'] }, bob: { password: ADMIN_PASSWORD, groups: ['dev'] } },
      config: {
        session: { cookies: [{ domain: 'example.test', authelia_url: `https://auth.example.test:${proxyPort}/` }] },
        access_control: { default_policy: 'deny', rules: [{ domain: 'monitor.example.test', policy: 'one_factor' }] },
        identity_assertion: { audiences: { 'monitor.example.test': 'monitor' }, key_path: join(temp.dir, 'assertion.pem') },
      },
    });
    const monitorPort = await freePort();
    const { config } = parseMonitorConfig({
      server: { address: `tcp://127.0.0.1:${monitorPort}` },
      data_dir: join(temp.dir, 'monitor'),
      remote_user: { group_scopes: { admins: 'full_admin' }, assertion: { jwks_url: `${gw.url}/jwks.json`, audience: 'monitor' } },
    });
    monitor = await startMonitor(config, { logger: pino({ level: 'silent' }), argon2: { memory: 1024, iterations: 1, parallelism: 1 } });
    const cert = await makeCertificate(['auth.example.test', 'monitor.example.test']);
    ca = cert.certPem;
    const gatewayPort = new URL(gw.url).port;
    nginx = await startNginx({
      dir: temp.dir,
      config: `
upstream gatehouse { server 127.0.0.1:${gatewayPort}; }
map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
server {
    listen 127.0.0.1:${proxyPort} ssl;
    server_name auth.example.test;
    ssl_certificate ${cert.certPath};
    ssl_certificate_key ${cert.keyPath};
    location / { include ${nginxSnippet('proxy.conf')}; proxy_pass http://gatehouse; }
}
server {
    listen 127.0.0.1:${proxyPort} ssl;
    server_name monitor.example.test;
    ssl_certificate ${cert.certPath};
    ssl_certificate_key ${cert.keyPath};
    include ${nginxSnippet('gatehouse-location.conf')};
    location / {
        include ${nginxSnippet('proxy.conf')};
        include ${nginxSnippet('gatehouse-authrequest.conf')};
        # the monitor recipe: pass the gateway's signed assertion on too
        auth_request_set $gatehouse_assertion $upstream_http_remote_assertion;
        proxy_set_header Remote-Assertion $gatehouse_assertion;
        proxy_pass http://127.0.0.1:${monitorPort};
    }
}
`,
    });
    await waitForPort(proxyPort);
  });
  after(async () => {
    await nginx?.stop();
    await monitor?.close();
    await gw?.close();
    await temp?.cleanup();
  });

  const signIn = async (user: string) => {
    const answer = await request(url('auth', '/api/firstfactor'), { ca, method: 'POST', json: { username: user, password: ADMIN_PASSWORD }, headers: { origin: `https://auth.example.test:${proxyPort}` } });
    assert.equal(answer.status, 200, answer.body);
    return `gatehouse_session=${answer.cookies.find((c) => c.name === 'gatehouse_session')!.value}`;
  };

  it('the signed-in user reaches the monitor API with the scope of their gateway groups', async () => {
    const alice = await signIn('alice');
    const status = await request(url('monitor', '/api/auth/status'), { ca, headers: { cookie: alice } });
    assert.equal(status.status, 200, status.body);
    assert.equal(status.json<{ username: string; scope: string }>().username, 'alice');
    assert.equal(status.json<{ scope: string }>().scope, 'full_admin');
    const bob = await signIn('bob');
    const ticket = await request(url('monitor', '/api/terminal/ticket'), { ca, method: 'POST', json: {}, headers: { cookie: bob, 'sec-fetch-site': 'same-origin' } });
    assert.equal(ticket.status, 403, 'bob (group dev) is read_only: no terminal');
    assert.equal((await request(url('monitor', '/api/system'), { ca, headers: { cookie: bob } })).status, 200);
  });

  it('anonymous with a forged Remote-User and Remote-Assertion: sent to the portal, the monitor never sees it', async () => {
    const answer = await request(url('monitor', '/api/system'), { ca, headers: { 'remote-user': 'alice', 'remote-assertion': 'x.y.z', accept: 'text/html' } });
    assert.equal(answer.status, 302);
    assert.match(answer.headers.location ?? '', /^https:\/\/auth\.example\.test:\d+\/\?rd=/);
  });
});
