import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPasswordCheckLimiter, PasswordChecksBusy } from '../../lib/password-checks.ts';

/** A check that runs until the test releases it. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  let started = 0;
  return {
    check: async () => {
      started++;
      await opened;
      return 'checked';
    },
    open: () => open(),
    started: () => started,
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('password check limiter: bounded concurrency, queue and per-client share', () => {
  it('runs `concurrency` checks, queues up to `queue`, and refuses the rest at once', async () => {
    const limiter = createPasswordCheckLimiter({ concurrency: 2, queue: 2, perClient: 100, maxWaitMs: 60_000 });
    const g = gate();
    const runs = Array.from({ length: 4 }, (_, i) => limiter.run(`client-${i}`, g.check));
    await tick();
    assert.equal(g.started(), 2);
    assert.deepEqual({ running: limiter.stats().running, queued: limiter.stats().queued }, { running: 2, queued: 2 });
    await assert.rejects(limiter.run('client-9', g.check), (error: unknown) => error instanceof PasswordChecksBusy && error.reason === 'queue' && error.retryAfterSeconds === 60);
    g.open();
    assert.deepEqual(await Promise.all(runs), ['checked', 'checked', 'checked', 'checked']);
    assert.deepEqual(limiter.stats(), { running: 0, queued: 0, rejected: { client: 0, queue: 1, wait: 0 } });
  });

  it('one client may hold only `perClient` checks, running or waiting; others still get in', async () => {
    const limiter = createPasswordCheckLimiter({ concurrency: 1, queue: 10, perClient: 2, maxWaitMs: 60_000 });
    const g = gate();
    const flood = Array.from({ length: 10 }, () => limiter.run('198.51.100.7', g.check).catch((error: unknown) => error));
    const user = limiter.run('203.0.113.5', g.check);
    await tick();
    assert.equal(limiter.stats().queued, 2); // one flood check waits, and the user's
    g.open();
    const results = await Promise.all(flood);
    assert.equal(results.filter((r) => r instanceof PasswordChecksBusy && r.reason === 'client').length, 8);
    assert.equal(await user, 'checked');
  });

  it('a freed slot goes to the client with the fewest checks in flight, not to the flood queued first', async () => {
    const limiter = createPasswordCheckLimiter({ concurrency: 1, queue: 10, perClient: 4, maxWaitMs: 60_000 });
    const order: string[] = [];
    const g = gate();
    const run = (client: string) => limiter.run(client, async () => {
      order.push(client);
      await g.check();
    });
    const runs = [run('flood'), run('flood'), run('flood'), run('user')];
    await tick();
    g.open();
    await Promise.all(runs);
    assert.deepEqual(order, ['flood', 'user', 'flood', 'flood']);
  });

  it('a check that waited longer than maxWait is refused, and a failed check frees its slot', async () => {
    const limiter = createPasswordCheckLimiter({ concurrency: 1, queue: 1, perClient: 5, maxWaitMs: 1 });
    const g = gate();
    const first = limiter.run('a', g.check);
    await assert.rejects(limiter.run('a', g.check), (error: unknown) => error instanceof PasswordChecksBusy && error.reason === 'wait');
    g.open();
    await first;
    await assert.rejects(limiter.run('a', () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await limiter.run('a', async () => 'again'), 'again');
    assert.deepEqual(limiter.stats().rejected, { client: 0, queue: 0, wait: 1 });
  });
});
