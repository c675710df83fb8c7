/** Sliding-window limits on failed attempts, per address and per user, in bounded memory. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRateLimiter } from '../../../../monitor/auth/rate-limit.ts';

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

describe('memory', () => {
  it('keeps at most maxKeys keys, forgetting the least recently failed', () => {
    const c = clock();
    const limiter = createRateLimiter({ perIp: { max: 1, windowMs: 60_000 }, maxKeys: 100, now: c.now });
    limiter.fail({ ip: 'first' });
    for (let i = 0; i < 500; i++) limiter.fail({ ip: `198.51.100.${i}` });
    assert.equal(limiter.check({ ip: 'first' }).limited, false);
    assert.equal(limiter.check({ ip: '198.51.100.499' }).limited, true);
  });
});
