// RateSampler: when a request waits for a second reading and when it reuses the kept one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RateSampler } from '../../../../monitor/api/host/sampler.ts';
import { makeClock } from '../../../helpers/inprocess-gateway.ts';

function counterSource() {
  let value = 0;
  let reads = 0;
  return {
    take: async (): Promise<number> => {
      reads += 1;
      return value;
    },
    add(n: number) {
      value += n;
    },
    get reads() {
      return reads;
    },
  };
}

const rate = (before: number, after: number, seconds: number): number => (after - before) / seconds;

describe('the first reading is a pair taken settleMs apart', () => {
  it('reads twice and waits between', async () => {
    const source = counterSource();
    const sampler = new RateSampler<number, number>({ settleMs: 50 });
    const started = performance.now();
    assert.equal(await sampler.read(source.take, rate), 0);
    assert.equal(source.reads, 2);
    assert.ok(performance.now() - started >= 45);
  });

  it('concurrent callers share one reading', async () => {
    const source = counterSource();
    const sampler = new RateSampler<number, number>({ settleMs: 20 });
    await Promise.all([sampler.read(source.take, rate), sampler.read(source.take, rate), sampler.read(source.take, rate)]);
    assert.equal(source.reads, 2);
  });
});

describe('later readings are measured against the kept one', () => {
  it('the rate covers the time since the previous reading, by the injected clock, without waiting', async () => {
    const clock = makeClock();
    const source = counterSource();
    const sampler = new RateSampler<number, number>({ now: clock.now, settleMs: 0 });
    await sampler.read(source.take, rate);
    clock.advance(10_000);
    source.add(5_000);
    const started = performance.now();
    assert.ok(Math.abs((await sampler.read(source.take, rate)) - 500) < 1, '5000 over 10 s');
    assert.equal(source.reads, 3, 'one new reading');
    assert.ok(performance.now() - started < 20);
  });

  it('a reading closer than minIntervalMs returns the last result instead of a noisy one', async () => {
    const clock = makeClock();
    const source = counterSource();
    const sampler = new RateSampler<number, number>({ now: clock.now, settleMs: 0, minIntervalMs: 100 });
    await sampler.read(source.take, rate);
    clock.advance(10_000);
    source.add(1_000);
    const last = await sampler.read(source.take, rate);
    source.add(1_000_000);
    assert.equal(await sampler.read(source.take, rate), last);
    assert.equal(source.reads, 3);
  });

  it('a kept reading older than maxAgeMs is replaced by a fresh pair, not averaged over hours', async () => {
    const clock = makeClock();
    const source = counterSource();
    const sampler = new RateSampler<number, number>({ now: clock.now, settleMs: 0, maxAgeMs: 60_000 });
    await sampler.read(source.take, rate);
    clock.advance(3_600_000);
    source.add(3_600_000);
    assert.equal(await sampler.read(source.take, rate), 0, 'the hour-old burst is not reported');
    assert.equal(source.reads, 4);
  });
});
