/**
 * "Sign out everywhere" destroys the thief's session in the store, but a request of that session already
 * in flight (here: asking for an elevation code while the mail server is slow) ends by saving the
 * session it loaded, and that save wrote the destroyed session back: the thief was signed in again, and
 * a thief who keeps requests going can never be signed out. A save at the end of a request may update
 * a signed-in session that still exists, never recreate one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { askAuthz, login, PORTAL_ORIGIN, portal, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { ACCESS_CONTROL, postForm, USERS, waitFor } from '../helpers/self-service.ts';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.ts';
import { startStallProxy, type StallProxy } from '../helpers/stall-proxy.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';

const APP = 'https://app.example.test/';

for (const store of ['memory', 'redis'] as const) describe(`${store} sessions: a request in flight does not bring back a session signed out meanwhile`, () => {
  let smtp: TestSmtpServer;
  let proxy: StallProxy;
  let gw: InProcessGateway;
  let redis: RedisServer | undefined;
  before(async () => {
    if (store === 'redis') redis = await startRedis();
    smtp = await startSmtpServer({ tls: 'none' });
    proxy = await startStallProxy({ host: '127.0.0.1', port: smtp.port });
    const notifier = { smtp: { address: `smtp://127.0.0.1:${proxy.port}`, sender: 'Gatehouse <gatehouse@example.test>', disable_require_tls: true } };
    gw = await startInProcessGateway({ users: USERS, config: { access_control: ACCESS_CONTROL, notifier, ...(redis ? { session: { redis: { host: '127.0.0.1', port: redis.port } } } : {}) } });
  });
  after(async () => {
    proxy?.resume();
    await gw?.close();
    await proxy?.close();
    await smtp?.close();
    await redis?.stop();
  });

  it('the thief asks for a code, the owner signs out everywhere, the mail goes: the thief stays out', async () => {
    const thief = await login(gw, 'alice', USERS.alice!.password);
    const owner = await login(gw, 'alice', USERS.alice!.password);
    const connections = proxy.accepted;
    proxy.stall();
    const sending = postForm(gw, '/elevate/send', { rd: '' }, { cookie: thief });
    await waitFor('the mail on its way', () => proxy.accepted > connections);
    const out = await portal(gw, '/api/user/sessions', { method: 'DELETE', json: {}, headers: { origin: PORTAL_ORIGIN, accept: 'application/json', cookie: owner } });
    assert.equal(out.status, 200);
    assert.equal((await askAuthz(gw, 'forward-auth', APP, { cookie: thief })).status, 401, 'signed out');
    proxy.resume();
    await sending;
    assert.equal((await askAuthz(gw, 'forward-auth', APP, { cookie: thief })).status, 401, 'still signed out after the request in flight ended');
    assert.equal((await portal(gw, '/api/user/info', { headers: { cookie: thief } })).status, 403);
  });
});
