// codec.ts promises that whoever can write the session store cannot forge a
// session. The AES-GCM value is not bound to its key (the session id), so someone with write access
// to Redis but without session.secret can copy the admin's encrypted value under their own session
// id and become the admin. (This test fails while the hole is open.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { CACHE_TTL_MS, SESSION_KEY_PREFIX } from '../../gateway/session/store.ts';
import { askAuthz, login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';

const PASSWORD = 'correct horse battery staple';

function sessionId(cookie: string): string {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
  return value.slice(2, value.lastIndexOf('.'));
}

describe('Redis session values are bound to their session id', () => {
  let redis: RedisServer;
  let gw: InProcessGateway;
  let client: Redis;

  before(async () => {
    redis = await startRedis();
    gw = await startInProcessGateway({
      users: {
        admin: { password: PASSWORD, groups: ['admins'] },
        mallory: { password: PASSWORD, groups: [] },
      },
      config: {
        access_control: { default_policy: 'deny', rules: [{ domain: 'admin.example.test', subject: 'group:admins', policy: 'one_factor' }] },
        session: { redis: { host: '127.0.0.1', port: redis.port } },
      },
    });
    client = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true });
    await client.connect();
  });
  after(async () => {
    client?.disconnect();
    await gw?.close();
    await redis?.stop();
  });

  it("copying the admin's encrypted value under mallory's session id does not make mallory the admin", async () => {
    const adminCookie = await login(gw, 'admin', PASSWORD);
    const malloryCookie = await login(gw, 'mallory', PASSWORD);
    assert.equal((await askAuthz(gw, 'auth-request', 'https://admin.example.test/', { cookie: malloryCookie })).status, 403);

    // what a Redis-only attacker can do: no secret involved
    const adminValue = await client.get(SESSION_KEY_PREFIX + sessionId(adminCookie));
    assert.ok(adminValue && adminValue.startsWith('g1.'));
    await client.set(SESSION_KEY_PREFIX + sessionId(malloryCookie), adminValue, 'PX', 600_000);
    gw.clock.advance(CACHE_TTL_MS + 1); // past the read cache (a publish would do it at once)

    const r = await askAuthz(gw, 'auth-request', 'https://admin.example.test/', { cookie: malloryCookie });
    assert.notEqual(r.status, 200, `mallory's own cookie now authorises as ${String(r.headers['remote-user'])}`);
  });
});

describe('a password change ends the sessions made with the old password', () => {
  let gw: InProcessGateway;

  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD } },
      config: { access_control: { default_policy: 'one_factor' } },
    });
  });
  after(async () => {
    await gw?.close();
  });

  it("after `gatehouse users passwd alice` (e.g. the password leaked), the thief's session stops working", async () => {
    const thief = await login(gw, 'alice', PASSWORD);
    assert.equal((await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie: thief })).status, 200);
    await gw.gateway.users.setPassword('alice', 'a brand new password nobody else knows');
    const r = await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie: thief });
    assert.notEqual(r.status, 200, 'the session made with the leaked password still authorises (remember_me: up to a month)');
  });
});
