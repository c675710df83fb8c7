/**
 * Issue 7, item 17: during an outage every request used to write its own error line. Now the first
 * failure is logged, then a summary at most every 10 s (count, last error), then the recovery.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createOutageLog } from '../../lib/outage-log.ts';
import { captureLogs, LEVEL } from '../helpers/logs.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';
import { askAuthz, login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';

describe('the outage log: first failure, a summary every 10 s, the recovery', () => {
  it('turns 1000 failures over 25 s into four lines', () => {
    const { logger, records } = captureLogs();
    let t = 1_000_000;
    const outage = createOutageLog(logger, 'storage (postgres)', { now: () => t });
    outage.success(); // nothing failing: nothing said
    for (let i = 0; i < 1000; i++) {
      outage.failure(new Error(`timeout ${i}`));
      t += 25; // 1000 failures × 25 ms = 25 s
    }
    outage.success();
    outage.success();
    assert.deepEqual(
      records.map((r) => [r.level, r.msg, r.failures, r.err]),
      [
        [LEVEL.error, 'storage (postgres): unavailable; requests that need it fail until it answers again', undefined, 'timeout 0'],
        [LEVEL.error, 'storage (postgres): still unavailable, 400 more failures since the last line', 400, 'timeout 400'],
        [LEVEL.error, 'storage (postgres): still unavailable, 400 more failures since the last line', 400, 'timeout 800'],
        [LEVEL.info, 'storage (postgres): available again after 1000 failures', 1000, 'timeout 999'],
      ],
    );
    assert.equal(records[3]!.down_ms, 25_000);
  });

  it('starts afresh with the next outage', () => {
    const { logger, records } = captureLogs();
    let t = 0;
    const outage = createOutageLog(logger, 'x', { now: () => t });
    outage.failure(new Error('a'));
    outage.success();
    t += 1;
    outage.failure(new Error('b'));
    assert.equal(outage.down, true);
    assert.deepEqual(records.map((r) => r.msg), [
      'x: unavailable; requests that need it fail until it answers again',
      'x: available again after 1 failures',
      'x: unavailable; requests that need it fail until it answers again',
    ]);
  });
});

describe('Redis down: 40 forward-auth questions write one error line, not 40', () => {
  let redis: RedisServer;
  let gw: InProcessGateway;
  before(async () => {
    redis = await startRedis();
    gw = await startInProcessGateway({
      users: { alice: { password: 'alice-password' } },
      config: { session: { redis: { host: redis.host, port: redis.port } }, access_control: { default_policy: 'one_factor' } },
    });
  });
  after(async () => {
    await gw?.close();
    await redis?.stop();
  });

  it('logs the outage once', { timeout: 20_000 }, async () => {
    const cookie = await login(gw, 'alice', 'alice-password');
    await redis.pause();
    gw.clock.advance(3_000); // past the in-process cache
    const before = gw.logs().filter((r) => Number(r.level) >= LEVEL.error).length;
    for (let i = 0; i < 40; i++) assert.notEqual((await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie })).status, 200);
    const errors = gw.logs().filter((r) => Number(r.level) >= LEVEL.error).slice(before);
    assert.ok(errors.length <= 2, `${errors.length} error lines:\n${errors.map((r) => r.msg).join('\n')}`);
    await redis.resume();
  });
});
