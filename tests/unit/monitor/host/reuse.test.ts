// reuseFor: the guard that keeps public and scrape routes from re-reading the host on every call.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reuseFor } from '../../../../monitor/api/host/reuse.ts';

describe('a value is read at most once per window', () => {
  it('callers inside the window share it; the first call after it reads again', async () => {
    let time = 0; // a clock that moves only when told, so the window edge is exact
    let reads = 0;
    const value = reuseFor(1_000, () => time, async () => ++reads);
    assert.deepEqual(await Promise.all([value(), value()]), [1, 1]);
    time += 999;
    assert.equal(await value(), 1);
    time += 1;
    assert.equal(await value(), 2);
  });

  it('a failed read is not served again: the next caller retries', async () => {
    let calls = 0;
    const value = reuseFor(60_000, Date.now, async () => {
      calls += 1;
      if (calls === 1) throw new Error('procfs not mounted');
      return 'ok';
    });
    await assert.rejects(value(), /procfs not mounted/);
    assert.equal(await value(), 'ok');
  });
});
