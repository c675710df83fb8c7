/**
 * Review of issue 7, item 12: while the session store was failing, a probe whose call threw at once
 * (instead of calling back) left the guard "probing" for good, so every later session read failed at
 * once until a restart, although the store answered again. A throw is a failure like any other now.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createOutageLog } from '../../lib/outage-log.ts';
import { SessionStoreUnavailable, StoreGuard } from '../../gateway/session/store.ts';
import { captureLogs } from '../helpers/logs.ts';

type Callback = (err: unknown, value?: string) => void;

/** Runs one call through the guard; what it answered (or threw at the caller). */
function call(guard: StoreGuard, op: (cb: Callback) => void): { err: unknown; value?: string; calls: number } {
  const outcome: { err: unknown; value?: string; calls: number } = { err: 'no answer', calls: 0 };
  try {
    guard.run<string>(op, (err, value) => {
      outcome.calls++;
      outcome.err = err;
      outcome.value = value;
    });
  } catch (error) {
    outcome.err = `thrown at the caller: ${(error as Error).message}`;
  }
  return outcome;
}

const refused: (cb: Callback) => void = (cb) => cb(new Error('connect ECONNREFUSED'));
const throwsAtOnce: (cb: Callback) => void = () => {
  throw new Error('Connection is closed.');
};
const answers: (cb: Callback) => void = (cb) => cb(null, 'session data');

describe('the session store guard: a probe that throws does not leave it failing for good', () => {
  it('a thrown probe is reported through the callback, and the next call reaches the store again', () => {
    const { logger, records } = captureLogs();
    let t = 0;
    const guard = new StoreGuard(createOutageLog(logger, 'session store (redis)', { now: () => t, setTimer: () => () => {} }));
    assert.ok(call(guard, refused).err instanceof SessionStoreUnavailable);

    t += 100;
    const probe = call(guard, throwsAtOnce);
    assert.ok(probe.err instanceof SessionStoreUnavailable, String(probe.err));
    assert.equal(probe.calls, 1);
    assert.equal((probe.err as SessionStoreUnavailable).cause instanceof Error && ((probe.err as SessionStoreUnavailable).cause as Error).message, 'Connection is closed.');

    t += 100;
    const next = call(guard, answers);
    assert.deepEqual(next, { err: null, value: 'session data', calls: 1 });
    assert.ok(records.some((r) => r.msg === 'session store (redis): available again after 2 failures'), records.map((r) => r.msg).join('\n'));
  });

  it('a throw while nothing was failing is a failure too, answered once', () => {
    const { logger } = captureLogs();
    const guard = new StoreGuard(createOutageLog(logger, 'x', { setTimer: () => () => {} }));
    const first = call(guard, throwsAtOnce);
    assert.ok(first.err instanceof SessionStoreUnavailable);
    assert.equal(first.calls, 1);
    assert.deepEqual(call(guard, answers), { err: null, value: 'session data', calls: 1 });
  });

  it('an op that calls back and then throws is answered once', () => {
    const { logger } = captureLogs();
    const guard = new StoreGuard(createOutageLog(logger, 'x', { setTimer: () => () => {} }));
    const outcome = call(guard, (cb) => {
      cb(null, 'session data');
      throw new Error('late');
    });
    assert.equal(outcome.calls, 1);
    assert.equal(outcome.value, 'session data');
    assert.deepEqual(call(guard, answers), { err: null, value: 'session data', calls: 1 });
  });
});
