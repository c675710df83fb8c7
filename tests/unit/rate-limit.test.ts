/** Sliding-window limits on failed attempts, per address and per user, in bounded memory. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRateLimiter } from '../../lib/rate-limit.ts';

function clock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('per-address window', () => {
  it('limits after max failures and tells how long until the oldest one leaves the window', () => {
    const c = clock();
    const limiter = createRateLimiter({ perIp: { max: 3, windowMs: 60_000 }, now: c.now });
    for (let i = 0; i < 3; i++) {
      assert.equal(limiter.check({ ip: '192.0.2.1' }).limited, false);
      limiter.fail({ ip: '192.0.2.1' });
      c.advance(10_000);
    }
    assert.deepEqual(limiter.check({ ip: '192.0.2.1' }), { limited: true, retryAfterSeconds: 30, by: 'ip' });
    assert.equal(limiter.check({ ip: '192.0.2.2' }).limited, false, 'other addresses are not affected');
    c.advance(30_000);
    assert.equal(limiter.check({ ip: '192.0.2.1' }).limited, false, 'the oldest failure left the window');
  });
});

describe('per-user window', () => {
  it('counts one user across addresses, case-insensitively', () => {
    const c = clock();
    const limiter = createRateLimiter({ perIp: { max: 100, windowMs: 60_000 }, perUser: { max: 2, windowMs: 60_000 }, now: c.now });
    limiter.fail({ ip: '192.0.2.1', user: 'Admin' });
    limiter.fail({ ip: '192.0.2.2', user: 'admin' });
    const decision = limiter.check({ ip: '192.0.2.3', user: 'ADMIN' });
    assert.equal(decision.limited && decision.by, 'user');
  });
});

describe('IPv6 clients', () => {
  it('are one client per /64, whatever the spelling', () => {
    const limiter = createRateLimiter({ perIp: { max: 3, windowMs: 60_000 } });
    limiter.fail({ ip: '2001:db8:1:2::1' });
    limiter.fail({ ip: '2001:0DB8:0001:0002:ffff:0:0:9' });
    limiter.fail({ ip: '2001:db8:1:2:0:0:0:1%eth0' });
    assert.equal(limiter.check({ ip: '2001:db8:1:2::abcd' }).limited, true);
    assert.equal(limiter.check({ ip: '2001:db8:1:3::1' }).limited, false, 'the next /64 is another client');
    assert.equal(limiter.check({ ip: '::ffff:192.0.2.1' }).limited, false, 'an IPv4-mapped address is its IPv4 address');
  });
});

describe('reserve: check and count in one step', () => {
  it('counts the attempt before it is checked, so parallel attempts cannot all pass; release un-counts it', () => {
    const limiter = createRateLimiter({ perIp: { max: 2, windowMs: 60_000 } });
    const first = limiter.reserve({ ip: '192.0.2.1' });
    const second = limiter.reserve({ ip: '192.0.2.1' });
    assert.equal(first.limited || second.limited, false);
    const third = limiter.reserve({ ip: '192.0.2.1' });
    assert.equal(third.limited, true, 'two attempts in flight spend the budget');
    if (!first.limited) {
      first.release();
      first.release(); // twice is once
    }
    assert.equal(limiter.check({ ip: '192.0.2.1' }).limited, false, 'a right credential gives its slot back');
    assert.equal(limiter.reserve({ ip: '192.0.2.1' }).limited, false);
    assert.equal(limiter.check({ ip: '192.0.2.1' }).limited, true, 'the unreleased one still counts as a failure');
  });
});

describe('memory', () => {
  it('keeps at most maxKeys keys per kind, forgetting the least recently failed key under its limit', () => {
    const c = clock();
    const limiter = createRateLimiter({ perIp: { max: 2, windowMs: 60_000 }, maxKeys: 100, now: c.now });
    limiter.fail({ ip: 'first' });
    for (let i = 0; i < 500; i++) limiter.fail({ ip: `198.51.100.${i}` });
    assert.equal(limiter.size(), 100);
    limiter.fail({ ip: 'first' });
    assert.equal(limiter.check({ ip: 'first' }).limited, false, 'its first failure was forgotten with the key');
  });

  it('never forgets a locked-out key to make room: new keys are refused while every key is locked out', () => {
    const c = clock();
    const limiter = createRateLimiter({ perIp: { max: 1, windowMs: 60_000 }, maxKeys: 100, now: c.now });
    limiter.fail({ ip: 'first' });
    for (let i = 0; i < 500; i++) limiter.fail({ ip: `198.51.100.${i}` });
    assert.equal(limiter.size(), 100);
    assert.equal(limiter.check({ ip: 'first' }).limited, true, 'the lock-out stays');
    const fresh = limiter.check({ ip: '203.0.113.1' });
    assert.equal(fresh.limited && fresh.retryAfterSeconds, 60, 'fail closed until the first lock-out ends');
    c.advance(60_001);
    assert.equal(limiter.check({ ip: '203.0.113.1' }).limited, false);
  });

  it('keeps usernames apart from addresses, so junk usernames cannot push out a locked-out account', () => {
    const limiter = createRateLimiter({ perIp: { max: 1000, windowMs: 60_000 }, perUser: { max: 3, windowMs: 60_000 }, maxKeys: 50 });
    for (let i = 0; i < 3; i++) limiter.fail({ ip: '192.0.2.1', user: 'admin' });
    for (let i = 0; i < 500; i++) limiter.fail({ ip: `198.51.100.${i % 200}`, user: `junk${i}` });
    assert.equal(limiter.check({ ip: '192.0.2.9', user: 'admin' }).limited, true);
  });
});
