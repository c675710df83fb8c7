/**
 * Issue 7, item 12: with Redis hung (connections open, no byte answered), every forward-auth answer
 * used to wait for the 5 s command timeout and then fail with 500. Now a session read gives up after
 * `session.redis.command_timeout` (500 ms) and the question is judged as anonymous: 401 / the portal
 * redirect, never 200; when Redis answers again, so does the session, without a restart.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, type RedisServer } from '../helpers/redis.ts';
import { startStallProxy, type StallProxy } from '../helpers/stall-proxy.ts';
import { askAuthz, BROWSER_ACCEPT, eventually, login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';

const TARGET = 'https://app.example.test/dashboard';
const CACHE_TTL_PASSED_MS = 3_000;

describe('a hung Redis: forward auth denies within the command timeout and recovers on its own', () => {
  let redis: RedisServer;
  let proxy: StallProxy;
  let gw: InProcessGateway;
  let cookie: string;

  before(async () => {
    redis = await startRedis();
    proxy = await startStallProxy({ host: redis.host, port: redis.port });
    gw = await startInProcessGateway({
      users: { alice: { password: 'alice-password' } },
      config: {
        session: { redis: { host: proxy.host, port: proxy.port } },
        access_control: { default_policy: 'one_factor' },
      },
    });
    cookie = await login(gw, 'alice', 'alice-password');
  });
  after(async () => {
    proxy?.resume();
    await gw?.close();
    await proxy?.close();
    await redis?.stop();
  });

  it('answers 200 while Redis answers', async () => {
    const answer = await askAuthz(gw, 'auth-request', TARGET, { cookie });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['remote-user'], 'alice');
  });

  it('denies every question while Redis hangs (401 with the portal for nginx, 302 for a browser), never 200', { timeout: 15_000 }, async () => {
    // past the in-process cache's TTL: the next reads must go to Redis
    gw.clock.advance(CACHE_TTL_PASSED_MS);
    proxy.stall();
    const answers = await Promise.all([
      ...Array.from({ length: 10 }, () => askAuthz(gw, 'auth-request', TARGET, { cookie })),
      ...Array.from({ length: 10 }, () => askAuthz(gw, 'forward-auth', TARGET, { cookie, headers: { accept: BROWSER_ACCEPT } })),
    ]);
    for (const answer of answers.slice(0, 10)) {
      assert.equal(answer.status, 401);
      assert.match(String(answer.headers.location), /^https:\/\/auth\.example\.test\/\?rd=/);
      assert.equal(answer.headers['remote-user'], undefined);
    }
    for (const answer of answers.slice(10)) {
      assert.equal(answer.status, 302);
      assert.match(String(answer.headers.location), /^https:\/\/auth\.example\.test\/\?rd=/);
    }
    // the command timeout fired (not a refused connection): the outage log says so, once
    const down = gw.logs().filter((r) => r.msg === 'session store (redis): unavailable; requests that need it fail until it answers again');
    assert.equal(down.length, 1, JSON.stringify(gw.logs().slice(-5)));
    assert.match(String(down[0]!.err), /timed out/i);
  });

  it('answers 200 again once Redis answers, without a restart', { timeout: 15_000 }, async () => {
    proxy.resume();
    await eventually('forward auth allows alice again', async () => (await askAuthz(gw, 'auth-request', TARGET, { cookie })).status === 200, 5_000);
    assert.ok(gw.logs().some((r) => typeof r.msg === 'string' && r.msg.startsWith('session store (redis): available again')));
  });
});
