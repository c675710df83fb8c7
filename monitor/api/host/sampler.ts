import { setTimeout as sleep } from 'node:timers/promises';

export interface RateSamplerOptions {
  now?: () => number;
  /** With no usable earlier reading, wait this long between the two readings. */
  settleMs?: number;
  /** Readings closer than this give too few ticks to mean anything: the last result is returned instead. */
  minIntervalMs?: number;
  /** An earlier reading older than this would average over too long a window: take a fresh pair. */
  maxAgeMs?: number;
}

interface Reading<Raw, Result> {
  at: number;
  raw: Raw;
  result: Result;
}

/**
 * Turns cumulative counters (CPU ticks, interface bytes) into a use or a rate over the time since
 * the previous reading, which it keeps, so a request only waits (`settleMs`) when there is none.
 */
export class RateSampler<Raw, Result> {
  readonly #now: () => number;
  readonly #settleMs: number;
  readonly #minIntervalMs: number;
  readonly #maxAgeMs: number;
  #last: Reading<Raw, Result> | undefined;
  #inFlight: Promise<Result> | undefined;

  constructor(options: RateSamplerOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#settleMs = options.settleMs ?? 200;
    this.#minIntervalMs = options.minIntervalMs ?? 100;
    this.#maxAgeMs = options.maxAgeMs ?? 60_000;
  }

  /** `compare(before, after, seconds)` computes the result; concurrent callers share one reading. */
  read(take: () => Promise<Raw>, compare: (before: Raw, after: Raw, seconds: number) => Result): Promise<Result> {
    this.#inFlight ??= this.#read(take, compare).finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #read(take: () => Promise<Raw>, compare: (before: Raw, after: Raw, seconds: number) => Result): Promise<Result> {
    const last = this.#last;
    const age = last === undefined ? Infinity : this.#now() - last.at;
    if (last !== undefined && age < this.#minIntervalMs) return last.result;
    let before: { at: number; raw: Raw };
    if (last !== undefined && age <= this.#maxAgeMs) {
      before = last;
    } else {
      before = { at: this.#now(), raw: await take() };
      await sleep(this.#settleMs);
    }
    const raw = await take();
    const at = this.#now();
    const result = compare(before.raw, raw, Math.max(at - before.at, 1) / 1000);
    this.#last = { at, raw, result };
    return result;
  }
}
