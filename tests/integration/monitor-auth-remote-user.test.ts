/**
 * Identity from the gateway: Remote-User/Remote-Groups believed only from trusted_proxies, stripped
 * and audited from anyone else, groups mapped to scopes, and (when configured) the gateway's signed
 * assertion checked against its JWKS served over real HTTP.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { makeApiToken, startAuthServer, type AuthServer } from './monitor-auth-harness.ts';

async function auditText(server: AuthServer): Promise<string> {
  await server.deps.audit.flush();
  return readFile(server.auditPath, 'utf8').catch(() => '');
}

describe('Remote-User from an untrusted peer is ignored, stripped and audited', () => {
  let server: AuthServer;
  let token: string;
  before(async () => {
    // the test client connects from 127.0.0.1, which this list does not cover
    server = await startAuthServer({ config: { trusted_proxies: ['10.0.0.0/8'], remote_user: { group_scopes: { admins: 'full_admin' } } } });
    token = await makeApiToken(server, await server.setup(), 'read_only');
  });
  after(() => server.close());

  it('does not authenticate the request', async () => {
    const reply = await server.send('/api/system', { headers: { 'Remote-User': 'admin', 'Remote-Groups': 'admins' } });
    assert.equal(reply.status, 401);
    const info = await server.send('/api/system-info', { headers: { 'Remote-User': 'admin' } });
    assert.equal(info.json.identity, null);
  });

  it('removes every case and -/_ variant from headers and rawHeaders before the handlers see them', async () => {
    const reply = await server.send('/api/system', {
      token,
      headers: { 'REMOTE-USER': 'admin', remote_user: 'admin', 'Remote_Groups': 'admins', 'remote-assertion': 'x.y.z', 'Remote-Email': 'a@b', 'X-Kept': '1' },
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.json.identity.username, 'admin');
    assert.equal(reply.json.identity.scope, 'read_only', 'the token decides, not the header');
    const names = Object.keys(reply.json.headers);
    assert.ok(names.includes('x-kept'));
    assert.deepEqual(names.filter((n) => /^remote[-_]/i.test(n)), []);
    assert.deepEqual(reply.json.rawHeaders.filter((n: string) => /^remote[-_]/i.test(n)), []);
  });

  it('audits the attempt as an authentication failure with the peer address', async () => {
    await server.send('/api/system-info', { headers: { 'Remote-User': 'root', 'X-Forwarded-For': '203.0.113.9' } });
    const audit = await auditText(server);
    assert.match(audit, /gatehouse-monitor: authentication failure; rhost=127\.0\.0\.1 user=root reason=untrusted_remote_user method=remote_user/);
    assert.doesNotMatch(audit, /rhost=203\.0\.113\.9/, 'X-Forwarded-For from an untrusted peer is not believed');
  });
});

describe('first run behind the gateway', () => {
  let server: AuthServer;
  before(async () => {
    server = await startAuthServer({ config: { trusted_proxies: ['127.0.0.1/32'], remote_user: { group_scopes: { admins: 'full_admin' }, default_scope: 'read_only' } } });
  });
  after(() => server.close());

  it('a gateway user who is not full_admin needs the setup code like anyone else', async () => {
    const reply = await server.send('/api/auth/setup', { json: { username: 'bob', password: 'Bob-Sets-It-Up-1' }, headers: { 'Remote-User': 'bob', 'Remote-Groups': 'dev', 'Sec-Fetch-Site': 'same-origin' } });
    assert.equal(reply.status, 403, reply.body);
  });

  it('a gateway admin (full_admin) sets up the login without the setup code', async () => {
    const reply = await server.send('/api/auth/setup', { json: { username: 'alice', password: 'Alice-Sets-It-Up-1' }, headers: { 'Remote-User': 'alice', 'Remote-Groups': 'admins', 'Sec-Fetch-Site': 'same-origin' } });
    assert.equal(reply.status, 200, reply.body);
    assert.equal(server.deps.setupCode.current(), null, 'the setup code is gone with the need for it');
  });
});

describe('Remote-User from a trusted proxy', () => {
  let server: AuthServer;
  before(async () => {
    server = await startAuthServer({
      config: { trusted_proxies: ['127.0.0.1/32'], remote_user: { group_scopes: { admins: 'full_admin', viewers: 'read_only' }, default_scope: 'read_only' } },
    });
    await server.setup();
  });
  after(() => server.close());

  const as = (user: string, groups?: string) => ({ 'Remote-User': user, ...(groups === undefined ? {} : { 'Remote-Groups': groups }) });

  it('authenticates and maps groups to the strongest scope', async () => {
    const alice = await server.send('/api/system', { headers: as('alice', 'viewers, admins') });
    assert.equal(alice.status, 200);
    assert.deepEqual(alice.json.identity, { username: 'alice', scope: 'full_admin', via: 'remote_user' });
    const bob = await server.send('/api/system', { headers: as('bob', 'viewers') });
    assert.equal(bob.json.identity.scope, 'read_only');
    const carol = await server.send('/api/system', { headers: as('carol') });
    assert.equal(carol.json.identity.scope, 'read_only', 'default_scope');
  });

  it('enforces the mapped scope on mutating routes', async () => {
    const sameOrigin = { 'Sec-Fetch-Site': 'same-origin' };
    assert.equal((await server.send('/api/terminal/ticket', { method: 'POST', json: {}, headers: { ...as('bob', 'viewers'), ...sameOrigin } })).status, 403);
    assert.equal((await server.send('/api/terminal/ticket', { method: 'POST', json: {}, headers: { ...as('alice', 'admins'), ...sameOrigin } })).status, 200);
  });

  it('takes an unsafe request only from the same origin: Sec-Fetch-Site same-origin/none, or Origin = Host', async () => {
    const post = (headers: Record<string, string>) => server.send('/api/terminal/ticket', { method: 'POST', json: {}, headers: { ...as('alice', 'admins'), ...headers } });
    const host = new URL(server.url).host;
    assert.equal((await post({ 'Sec-Fetch-Site': 'none' })).status, 200);
    assert.equal((await post({ Origin: `http://${host}` })).status, 200);
    assert.equal((await post({ Origin: 'http://elsewhere.example', 'X-Forwarded-Host': host })).status, 403, 'Origin is compared, not just present');
    assert.equal((await post({ Origin: 'http://evil.example' })).status, 403);
    assert.equal((await post({ 'Sec-Fetch-Site': 'cross-site', Origin: 'null' })).status, 403);
    const bare = await post({});
    assert.equal(bare.status, 403, 'no Origin and no Sec-Fetch-Site: not from the dashboard');
    assert.match(bare.json.message, /Cross-site request refused/);
    // reads are unaffected; a Bearer token is not sent by a browser on its own, so it needs none of this
    assert.equal((await server.send('/api/system', { headers: as('alice', 'admins') })).status, 200);
  });

  it('reports the gateway user in status', async () => {
    const reply = await server.send('/api/auth/status', { headers: as('alice', 'admins') });
    assert.equal(reply.json.authenticated, true);
    assert.equal(reply.json.username, 'alice');
    assert.equal(reply.json.via, 'remote_user');
    assert.equal(reply.json.gateway_portal, null, 'no remote_user.portal_url configured: no gateway sign-out to offer');
  });

  it('ignores the `_` spelling even from the proxy (a client header the proxy passed through)', async () => {
    const reply = await server.send('/api/system', { headers: { Remote_User: 'alice' } });
    assert.equal(reply.status, 401);
  });

  it('refuses a repeated or malformed Remote-User', async () => {
    const joined = await server.send('/api/system', { headers: { 'Remote-User': ['alice', 'bob'] } });
    assert.equal(joined.status, 401);
    const spaced = await server.send('/api/system', { headers: as('alice admin') });
    assert.equal(spaced.status, 401);
  });

  it('believes X-Forwarded-For from the proxy, and not from another peer', async () => {
    await server.send('/api/auth/login', { json: { username: 'x', password: 'Wrong-Pass-1' }, headers: { 'X-Forwarded-For': '198.51.100.1, 203.0.113.9' } });
    await server.send('/api/auth/login', { from: '127.0.0.2', json: { username: 'y', password: 'Wrong-Pass-1' }, headers: { 'X-Forwarded-For': '203.0.113.77' } });
    const audit = await auditText(server);
    assert.match(audit, /authentication failure; rhost=203\.0\.113\.9 user=x /);
    assert.match(audit, /authentication failure; rhost=127\.0\.0\.2 user=y /);
  });

  it('treats a Remote-User from another peer (127.0.0.2) as untrusted', async () => {
    const reply = await server.send('/api/system', { from: '127.0.0.2', headers: as('alice', 'admins') });
    assert.equal(reply.status, 401);
  });
});

interface Jwks {
  url: string;
  key: CryptoKey;
  close(): Promise<void>;
}

async function serveJwks(): Promise<Jwks> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'gw-1', alg: 'ES256', use: 'sig' };
  const server: Server = createServer((req, res) => {
    if (req.url !== '/jwks.json') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`,
    key: privateKey,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('the gateway assertion, when configured', () => {
  let jwks: Jwks;
  let server: AuthServer;
  let otherKey: CryptoKey;
  before(async () => {
    jwks = await serveJwks();
    otherKey = (await generateKeyPair('ES256')).privateKey;
    server = await startAuthServer({
      config: { trusted_proxies: ['127.0.0.1/32'], remote_user: { group_scopes: { admins: 'full_admin' }, assertion: { jwks_url: jwks.url, audience: 'monitor' } } },
    });
  });
  after(async () => {
    await server.close();
    await jwks.close();
  });

  const assertion = (o: { sub?: string; aud?: string; iat?: number; exp?: number; key?: CryptoKey; kid?: string; typ?: string; groups?: unknown } = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT('groups' in o ? { groups: o.groups } : { groups: ['admins'] })
      .setProtectedHeader({ alg: 'ES256', kid: o.kid ?? 'gw-1', typ: o.typ ?? 'gatehouse-assertion+jwt' })
      .setSubject(o.sub ?? 'alice')
      .setAudience(o.aud ?? 'monitor')
      .setIssuedAt(o.iat ?? now)
      .setExpirationTime(o.exp ?? now + 60)
      .sign(o.key ?? jwks.key);
  };
  const send = (value?: string) =>
    server.send('/api/system', { headers: { 'Remote-User': 'alice', 'Remote-Groups': 'admins', ...(value === undefined ? {} : { 'Remote-Assertion': value }) } });

  it('accepts a fresh assertion for the same user', async () => {
    const reply = await send(await assertion());
    assert.equal(reply.status, 200, reply.body);
    assert.equal(reply.json.identity.scope, 'full_admin');
  });

  it('takes the groups from the signed assertion, not from the Remote-Groups header beside it', async () => {
    const reply = await send(await assertion({ groups: ['dev'] }));
    assert.equal(reply.status, 200, reply.body);
    assert.equal(reply.json.identity.scope, 'read_only');
  });

  const now = () => Math.floor(Date.now() / 1000);
  const refused: [string, () => Promise<string | undefined>, string][] = [
    ['missing', async () => undefined, 'missing_assertion'],
    ['expired', () => assertion({ iat: now() - 120, exp: now() - 60 }), 'invalid_assertion'],
    ['older than max_age', () => assertion({ iat: now() - 90, exp: now() + 30 }), 'invalid_assertion'],
    ['valid for longer than max_age', () => assertion({ exp: now() + 3600 }), 'invalid_assertion'],
    ['for another audience', () => assertion({ aud: 'grafana' }), 'invalid_assertion'],
    ['for another user', () => assertion({ sub: 'mallory' }), 'invalid_assertion'],
    ['signed by another key', () => assertion({ key: otherKey }), 'invalid_assertion'],
    ['not a JWS', async () => 'not.a.jws', 'invalid_assertion'],
    ['of another type (a JWT minted for something else)', () => assertion({ typ: 'JWT' }), 'invalid_assertion'],
    ['without a groups claim', () => assertion({ groups: undefined }), 'invalid_assertion'],
  ];
  for (const [what, make, reason] of refused) {
    it(`refuses the Remote-User with an assertion ${what} (401), and audits it`, async () => {
      const reply = await send(await make());
      assert.equal(reply.status, 401, reply.body);
      assert.equal(reply.json.success, false);
      assert.match(await auditText(server), new RegExp(`authentication failure; rhost=127\\.0\\.0\\.1 user=alice reason=${reason} method=remote_user`));
    });
  }

  it('answers 503 (and bans nobody) when the gateway keys cannot be fetched', async () => {
    const down = await startAuthServer({
      config: { trusted_proxies: ['127.0.0.1/32'], remote_user: { assertion: { jwks_url: 'http://127.0.0.1:1/jwks.json', audience: 'monitor' } } },
    });
    try {
      const reply = await down.send('/api/system', { headers: { 'Remote-User': 'alice', 'Remote-Assertion': await assertion() } });
      assert.equal(reply.status, 503);
      assert.doesNotMatch(await auditText(down), /authentication failure/);
    } finally {
      await down.close();
    }
  });
});

describe('remote_user.portal_url: where a gateway user signs out and manages their second factors', () => {
  let server: AuthServer;
  before(async () => {
    server = await startAuthServer({ config: { trusted_proxies: ['127.0.0.1/32'], remote_user: { group_scopes: { admins: 'full_admin' }, portal_url: 'https://auth.example.test/portal' } } });
  });
  after(() => server.close());

  it('status names the portal (with a trailing slash) to a gateway user only', async () => {
    const gateway = await server.send('/api/auth/status', { headers: { 'Remote-User': 'alice', 'Remote-Groups': 'admins' } });
    assert.equal(gateway.json.via, 'remote_user');
    assert.equal(gateway.json.gateway_portal, 'https://auth.example.test/portal/');
    const token = await makeApiToken(server, await server.setup(), 'read_only');
    const local = await server.send('/api/auth/status', { token });
    assert.equal(local.json.authenticated, true);
    assert.equal(local.json.gateway_portal, null, 'a local login has no gateway session to end');
  });
});

