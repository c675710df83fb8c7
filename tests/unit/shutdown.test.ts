import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { drainBudget } from '../../lib/shutdown.ts';

describe('the listeners drain within server.shutdown_timeout and leave time to close the stores', () => {
  it('a drain that uses its whole budget still ends before the process deadline', () => {
    for (const timeout of [1_000, 2_000, 5_000, 10_000, 60_000]) {
      const budget = drainBudget(timeout);
      assert.ok(budget < timeout, `${timeout} ms: the drain may take ${budget} ms, the whole deadline`);
      assert.ok(budget >= timeout / 2, `${timeout} ms: the drain gets only ${budget} ms`);
    }
    assert.equal(drainBudget(10_000), 9_000, 'one second is left for the stores');
  });
});
