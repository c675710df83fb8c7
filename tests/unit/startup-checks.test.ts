import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeResult, openProviders, runStartupChecks, StartupCheckError } from '../../gateway/startup-checks.ts';

const never = () => new Promise<never>(() => {});

describe('the startup check runner reports every provider, each on its own line', () => {
  it('runs all checks, ok or failed, in the order given; the reason does not repeat the provider', async () => {
    const results = await runStartupChecks([
      { name: 'storage', run: async () => 'SQLite database at /data/db.sqlite3: schema up to date' },
      { name: 'session store', run: async () => { throw new Error('session store: cannot connect to Redis at 127.0.0.1:1: connection refused'); } },
      { name: 'notifier', run: async () => {} },
      { name: 'users', run: () => { throw new Error('the users file is unreadable'); } },
    ]);
    assert.deepEqual(results.map(describeResult), [
      'storage: ok (SQLite database at /data/db.sqlite3: schema up to date)',
      'session store: failed: cannot connect to Redis at 127.0.0.1:1: connection refused',
      'notifier: ok',
      'users: failed: the users file is unreadable',
    ]);
  });

  it('a check that never settles fails after the backstop timeout instead of holding the start', async () => {
    const started = Date.now();
    const [result] = await runStartupChecks([{ name: 'notifier', run: never }], { timeoutMs: 200 });
    assert.deepEqual(result, { name: 'notifier', ok: false, reason: 'no answer within 200 ms' });
    assert.ok(Date.now() - started < 2_000);
  });
});

describe('openProviders opens and checks every provider, and gives back none when one fails', () => {
  it('returns the providers in order when all open and pass their checks', async () => {
    const [a, b] = await openProviders([
      { name: 'storage', open: async () => 'db', check: async () => {}, close: async () => {} },
      { name: 'session store', open: async () => 42, close: async () => {} },
    ]);
    assert.equal(a, 'db');
    assert.equal(b, 42);
  });

  it('closes what opened (also what opens too late) and throws one error naming every failure', async () => {
    const closed: string[] = [];
    let openLate!: (value: string) => void;
    const late = new Promise<string>((resolve) => (openLate = resolve));
    await assert.rejects(
      openProviders(
        [
          { name: 'storage', open: async () => 'db', close: async (p: string) => void closed.push(p) },
          { name: 'session store', open: async () => 'redis', check: async () => { throw new Error('session store: Redis at 127.0.0.1:6379 did not answer PING: not connected'); }, close: async (p: string) => void closed.push(p) },
          { name: 'notifier', open: () => late, close: async (p: string) => void closed.push(p) },
        ],
        { timeoutMs: 100 },
      ),
      (error: unknown) => {
        assert.ok(error instanceof StartupCheckError);
        assert.equal(
          error.message,
          'startup check failed: session store: Redis at 127.0.0.1:6379 did not answer PING: not connected\n'
            + 'startup check failed: notifier: no answer within 100 ms',
        );
        return true;
      },
    );
    assert.deepEqual(closed.sort(), ['db', 'redis']);
    openLate('mail');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(closed.sort(), ['db', 'mail', 'redis']);
  });

  it('a provider whose close() never finishes does not hold the failed start: each close has its own time', { timeout: 10_000 }, async () => {
    const closed: string[] = [];
    const started = Date.now();
    await assert.rejects(
      openProviders(
        [
          { name: 'session store', open: async () => 'redis', close: never },
          { name: 'storage', open: async () => 'db', close: async (p: string) => void closed.push(p) },
          { name: 'users', open: async () => 'file', check: async () => { throw new Error('users: the users file is unreadable'); }, close: async (p: string) => void closed.push(p) },
        ],
        { closeTimeoutMs: 200 },
      ),
      { name: 'StartupCheckError', message: 'startup check failed: users: the users file is unreadable' },
    );
    assert.deepEqual(closed.sort(), ['db', 'file']);
    assert.ok(Date.now() - started < 2_000, `gave up after ${Date.now() - started} ms`);
  });
});
