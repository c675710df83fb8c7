/**
 * After Redis drops the gateway's pub/sub connection, the gateway must listen for session evictions
 * again, or a logout on another instance would be honoured only when the 2 s read cache ages out.
 * The gateway re-subscribes itself (ioredis's own re-subscription leaves a promise nobody handles,
 * and a close during it surfaced as an unhandled "Connection is closed." that failed an unrelated
 * test about one full run in five). The first test fails if the gateway does not re-subscribe; the
 * second closes gateways while they reconnect and checks nothing is left unhandled (that race is
 * narrow, so it guards rather than reproduces).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { INVALIDATION_CHANNEL } from '../../gateway/session/store.ts';
import { generateSecret } from '../../lib/secret-strength.ts';
import { askAuthz, eventually, login, portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';

const PASSWORD = 'correct horse battery staple';
const TARGET = 'https://app.example.test/';

describe('a dropped pub/sub connection: evictions are heard again, and closing meanwhile leaves nothing unhandled', () => {
  let redis: RedisServer;
  let admin: Redis;
  let a: InProcessGateway;
  let b: InProcessGateway;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    redis = await startRedis();
    admin = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true });
    await admin.connect();
    const config = {
      access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
      // one secret, so a cookie from one instance is read by the other
      session: { secret: generateSecret(), redis: { host: '127.0.0.1', port: redis.port } },
    };
    a = await startInProcessGateway({ users: { alice: { password: PASSWORD } }, config });
    b = await startInProcessGateway({ users: { alice: { password: PASSWORD } }, config, dir: a.dir });
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await a?.close();
    await b?.close();
    admin?.disconnect();
    await redis?.stop();
  });

  const listeners = async () => Number(((await admin.call('PUBSUB', 'NUMSUB', INVALIDATION_CHANNEL)) as [string, number])[1]);

  it('re-subscribes after Redis kills the subscriber connections; a logout on one instance reaches the other at once', async () => {
    assert.equal(await listeners(), 2);
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await eventually('both gateways listen again', async () => (await listeners()) === 2, 10_000);

    const cookie = await login(a, 'alice', PASSWORD);
    assert.equal((await askAuthz(b, 'auth-request', TARGET, { cookie })).status, 200); // now cached in b
    const out = await portal(a, '/api/logout', { method: 'POST', json: {}, headers: { cookie, origin: PORTAL_ORIGIN } });
    assert.equal(out.status, 200);
    // b's clock does not move: only the pub/sub eviction can end its cached copy
    await eventually('b hears the logout', async () => (await askAuthz(b, 'auth-request', TARGET, { cookie })).status === 401, 2_000);
  });

  it('closing a gateway while its subscriber reconnects leaves no unhandled rejection', async () => {
    for (let round = 0; round < 5; round++) {
      const c = await startInProcessGateway({
        users: { alice: { password: PASSWORD } },
        config: { access_control: { default_policy: 'one_factor' }, session: { redis: { host: '127.0.0.1', port: redis.port } } },
      });
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await c.close();
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled.map(String), []);
  });
});
