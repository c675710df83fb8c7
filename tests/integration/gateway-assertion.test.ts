/**
 * The identity assertion (identity_assertion): a short-lived ES256 JWS beside Remote-User that an app
 * verifies against the gateway's /jwks.json, so a Remote-User header forged by anything else on the
 * trusted network is refused.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.ts';
import { request } from '../helpers/http.ts';
import { askAuthz, login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { freePort } from '../helpers/ports.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const PASSWORD = 'alice-password-1';
const USERS = { alice: { password: PASSWORD, displayname: 'Alice', email: 'alice@example.test', groups: ['admins', 'dev'] } };
const ACCESS = {
  default_policy: 'deny',
  rules: [
    { domain: 'public.example.test', policy: 'bypass' },
    { domain: ['monitor.example.test', 'wiki.example.test'], policy: 'one_factor' },
  ],
};

describe('forward auth with identity_assertion', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  let gw: InProcessGateway;
  let cookie: string;
  const keyPath = () => join(temp.dir, 'assertion-key.pem');

  before(async () => {
    temp = await makeTempDir();
    gw = await startInProcessGateway({
      dir: temp.dir,
      users: USERS,
      config: { access_control: ACCESS, identity_assertion: { audiences: { 'monitor.example.test': 'monitor' }, lifespan: '60s', key_path: keyPath() } },
    });
    cookie = await login(gw, 'alice', PASSWORD);
  });
  after(async () => {
    await gw?.close();
    await temp?.cleanup();
  });

  it('an authorized answer carries a JWS that verifies against /jwks.json with the right claims', async () => {
    const answer = await askAuthz(gw, 'auth-request', 'https://monitor.example.test/', { cookie });
    assert.equal(answer.status, 200);
    const jws = answer.headers['remote-assertion'];
    assert.ok(typeof jws === 'string' && jws.split('.').length === 3, `no JWS: ${jws}`);
    const jwks = createRemoteJWKSet(new URL(`${gw.url}/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(jws, jwks, { audience: 'monitor', issuer: 'https://auth.example.test', algorithms: ['ES256'] });
    assert.equal(payload.sub, 'alice');
    assert.deepEqual(payload.groups, ['admins', 'dev']);
    assert.equal(payload.exp! - payload.iat!, 60);
    assert.equal(protectedHeader.typ, 'gatehouse-assertion+jwt');
  });

  it('an app not named in identity_assertion.audiences gets no assertion it could replay at the monitor', async () => {
    const answer = await askAuthz(gw, 'auth-request', 'https://wiki.example.test/', { cookie });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['remote-user'], 'alice');
    assert.equal(answer.headers['remote-assertion'], '');
  });

  it('a different audience does not verify', async () => {
    const jws = (await askAuthz(gw, 'auth-request', 'https://monitor.example.test/', { cookie })).headers['remote-assertion'] as string;
    await assert.rejects(jwtVerify(jws, createRemoteJWKSet(new URL(`${gw.url}/jwks.json`)), { audience: 'another-app' }));
  });

  it('is reused while fresh instead of being signed on every request', async () => {
    const a = (await askAuthz(gw, 'auth-request', 'https://monitor.example.test/a', { cookie })).headers['remote-assertion'];
    const b = (await askAuthz(gw, 'auth-request', 'https://monitor.example.test/b', { cookie })).headers['remote-assertion'];
    assert.equal(a, b);
    gw.clock.advance(16_000); // past a quarter of the lifespan
    const c = (await askAuthz(gw, 'auth-request', 'https://monitor.example.test/c', { cookie })).headers['remote-assertion'];
    assert.notEqual(c, a);
  });

  it('an anonymous request through a bypass rule gets an empty assertion, not someone else\'s', async () => {
    const answer = await askAuthz(gw, 'auth-request', 'https://public.example.test/');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['remote-assertion'], '');
  });

  it('keeps its signing key in a 0600 file and reuses it after a restart', async () => {
    assert.equal((await stat(keyPath())).mode & 0o777, 0o600);
    const kidBefore = (JSON.parse((await request(`${gw.url}/jwks.json`)).body) as { keys: { kid: string }[] }).keys[0]!.kid;
    const again = await startInProcessGateway({
      dir: temp.dir,
      config: { access_control: ACCESS, identity_assertion: { audiences: { 'monitor.example.test': 'monitor' }, key_path: keyPath() } },
    });
    try {
      const kidAfter = (JSON.parse((await request(`${again.url}/jwks.json`)).body) as { keys: { kid: string }[] }).keys[0]!.kid;
      assert.equal(kidAfter, kidBefore);
    } finally {
      await again.gateway.close();
    }
  });
});

describe('the embedded proxy sends the assertion and never a client\'s', () => {
  let echo: EchoUpstream;
  let gw: InProcessGateway;
  let temp: { dir: string; cleanup: () => Promise<void> };
  let base: string;

  before(async () => {
    temp = await makeTempDir();
    echo = await startEchoUpstream();
    const port = await freePort();
    base = `http://localhost:${port}`;
    gw = await startInProcessGateway({
      dir: temp.dir,
      users: USERS,
      config: {
        server: { address: `tcp://127.0.0.1:${port}`, upstreams: { default: echo.url } },
        session: { cookies: [{ domain: 'localhost', authelia_url: `${base}/auth/` }] },
        access_control: { default_policy: 'one_factor' },
        identity_assertion: { audiences: { localhost: 'monitor' }, key_path: join(temp.dir, 'key.pem') },
      },
    });
  });
  after(async () => {
    await gw?.close();
    await echo?.close();
    await temp?.cleanup();
  });

  it('the app receives a valid assertion for the logged-in user; a forged one is replaced', async () => {
    const loginAnswer = await request(`${base}/auth/api/firstfactor`, { method: 'POST', json: { username: 'alice', password: PASSWORD }, headers: { origin: base } });
    const set = loginAnswer.cookies.find((c) => c.name === 'gatehouse_session');
    assert.ok(set);
    const before = echo.requests.length;
    const answer = await request(`${base}/page`, { headers: { cookie: `gatehouse_session=${set.value}`, 'remote-assertion': 'forged.by.client' } });
    assert.equal(answer.status, 200);
    const seen = echo.requests.slice(before);
    assert.equal(seen.length, 1);
    const jws = seen[0]!.headers['remote-assertion'];
    assert.ok(typeof jws === 'string' && jws !== 'forged.by.client');
    assert.equal(decodeProtectedHeader(jws).alg, 'ES256');
    const { payload } = await jwtVerify(jws, createRemoteJWKSet(new URL(`${gw.url}/jwks.json`)), { audience: 'monitor' });
    assert.equal(payload.sub, 'alice');
  });
});
