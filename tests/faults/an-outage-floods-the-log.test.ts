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

/** A timer the test fires by hand, after moving its clock. */
function manualTimer(now: () => number) {
  const due: Array<{ fn: () => void; at: number }> = [];
  return {
    set: (fn: () => void, ms: number) => {
      const entry = { fn, at: now() + ms };
      due.push(entry);
      return () => void due.splice(due.indexOf(entry), 1);
    },
    pending: () => due.length,
    /** Runs what is due by the test clock's now. */
    runDue() {
      for (const entry of due.filter((e) => e.at <= now())) {
        due.splice(due.indexOf(entry), 1);
        entry.fn();
      }
    },
  };
}

describe('the outage log: a flapping backend is summarised, not logged per flap', () => {
  it('500 failure/recovery pairs over 20 s: three transition lines, then one summary per interval', () => {
    const { logger, records } = captureLogs();
    let t = 0;
    const timer = manualTimer(() => t);
    const outage = createOutageLog(logger, 'storage (postgres)', { now: () => t, setTimer: timer.set });
    for (let i = 0; i < 500; i++) {
      outage.failure(new Error(`refused ${i}`));
      t += 20;
      outage.success();
      t += 20; // 500 pairs × 40 ms = 20 s
    }
    t += 10_000;
    timer.runDue();
    const lines = records.map((r) => r.msg);
    assert.ok(lines.length <= 6, `${lines.length} lines:\n${lines.join('\n')}`);
    assert.deepEqual(lines.slice(0, 3), [
      'storage (postgres): unavailable; requests that need it fail until it answers again',
      'storage (postgres): available again after 1 failures',
      'storage (postgres): unavailable; requests that need it fail until it answers again',
    ]);
    const summaries = records.slice(3);
    assert.ok(summaries.every((r) => r.msg.startsWith('storage (postgres): flapping: ')), lines.join('\n'));
    // nothing lost: every failure after the first two is in a summary (the third is in its own line)
    assert.equal(summaries.reduce((n, r) => n + Number(r.failures), 0), 500 - 2);
    assert.equal(summaries.at(-1)!.err, 'refused 499');
    assert.match(summaries.at(-1)!.msg, /; available now$/);
    assert.equal(outage.down, false);
  });

  it('once quiet for an interval, the next outage is logged as a new one again', () => {
    const { logger, records } = captureLogs();
    let t = 0;
    const timer = manualTimer(() => t);
    const outage = createOutageLog(logger, 'x', { now: () => t, setTimer: timer.set });
    for (let i = 0; i < 10; i++) {
      outage.failure(new Error('a'));
      outage.success();
      t += 1;
    }
    t = 20_000;
    timer.runDue();
    assert.equal(records.at(-1)!.msg, 'x: flapping: 8 failures, unavailable 8 times and available again 9 times since the last line; available now');
    const before = records.length;
    t += 30_000;
    outage.failure(new Error('b'));
    assert.deepEqual(records.slice(before).map((r) => r.msg), ['x: unavailable; requests that need it fail until it answers again']);
  });
});

describe('the outage log: failures counted since the last line are written when traffic stops', () => {
  it('a timer writes the pending count one interval after the last line', () => {
    const { logger, records } = captureLogs();
    let t = 0;
    const timer = manualTimer(() => t);
    const outage = createOutageLog(logger, 'session store (redis)', { now: () => t, setTimer: timer.set });
    outage.failure(new Error('timeout 0'));
    for (let i = 1; i <= 7; i++) {
      t += 100;
      outage.failure(new Error(`timeout ${i}`));
    }
    // no more requests: nothing else would ever write the seven
    assert.equal(records.length, 1);
    t = 10_000;
    timer.runDue();
    assert.deepEqual(
      records.map((r) => [r.msg, r.failures, r.err]),
      [
        ['session store (redis): unavailable; requests that need it fail until it answers again', undefined, 'timeout 0'],
        ['session store (redis): still unavailable, 7 more failures since the last line', 7, 'timeout 7'],
      ],
    );
    assert.equal(timer.pending(), 0, 'nothing left to write, no timer left behind');
  });

  it('the recovery line carries the pending count and cancels the timer', () => {
    const { logger, records } = captureLogs();
    let t = 0;
    const timer = manualTimer(() => t);
    const outage = createOutageLog(logger, 'x', { now: () => t, setTimer: timer.set });
    outage.failure(new Error('a'));
    t += 5;
    outage.failure(new Error('b'));
    t += 5;
    outage.success();
    assert.equal(timer.pending(), 0);
    assert.deepEqual(records.map((r) => [r.msg, r.failures]), [
      ['x: unavailable; requests that need it fail until it answers again', undefined],
      ['x: available again after 2 failures', 2],
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
