/**
 * Logging a backend outage without one line per request: the first failure, then at most one summary
 * per interval (how many failed since the last line, the last error), then the recovery. A backend
 * that flaps (fails, answers, fails again…) writes at most a few transition lines per interval; after
 * that its failures and recoveries are folded into the summary. What was folded is written by the next
 * event after the interval, or by a timer when traffic stops.
 */
import type { Logger } from 'pino';

export interface OutageLog {
  /** A request to the backend failed. */
  failure(error: unknown): void;
  /** A request to the backend succeeded (cheap when nothing was failing). */
  success(): void;
  /** True between a failure and the next success. */
  readonly down: boolean;
}

const OUTAGE_SUMMARY_INTERVAL_MS = 10_000;
/** "unavailable" and "available again" lines written within one interval before a flapping backend is summarised instead. */
const OUTAGE_TRANSITION_LINES = 3;

/** Runs `fn` once after `ms`; returns the cancel. The default timer never holds the process open. */
export type OutageTimer = (fn: () => void, ms: number) => () => void;

const unrefTimer: OutageTimer = (fn, ms) => {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `what` names the backend in every line, e.g. 'session store (redis)'. */
export function createOutageLog(
  logger: Logger,
  what: string,
  options: { now?: () => number; intervalMs?: number; setTimer?: OutageTimer } = {},
): OutageLog {
  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? OUTAGE_SUMMARY_INTERVAL_MS;
  const setTimer = options.setTimer ?? unrefTimer;
  let down = false;
  let since = 0; // when the current outage began
  let total = 0; // failures in the current outage
  let lastError = '';
  let lastLine = Number.NEGATIVE_INFINITY;
  /** When the transition lines of the last interval were written. */
  let transitions: number[] = [];
  let flapping = false;
  // folded since the last line
  let failures = 0;
  let outages = 0;
  let recoveries = 0;
  let cancelTimer: (() => void) | null = null;

  const folded = () => failures + recoveries > 0;

  /** Whether a transition line may be written now; once the budget is spent, the backend is flapping. */
  const mayWriteTransition = (t: number): boolean => {
    if (flapping) return false;
    transitions = transitions.filter((at) => t - at < interval);
    if (transitions.length < OUTAGE_TRANSITION_LINES) {
      transitions.push(t);
      return true;
    }
    flapping = true;
    return false;
  };

  const summary = (t: number): void => {
    if (flapping || outages > 0 || recoveries > 0) {
      const fields = { failures, outages, recoveries, err: lastError };
      const text = `${what}: flapping: ${failures} failures, unavailable ${outages} times and available again ${recoveries} times since the last line; ${down ? 'unavailable' : 'available'} now`;
      if (down) logger.error(fields, text);
      else logger.warn(fields, text);
    } else {
      logger.error({ failures, err: lastError, down_ms: t - since }, `${what}: still unavailable, ${failures} more failures since the last line`);
    }
    lastLine = t;
    failures = outages = recoveries = 0;
  };

  const stopTimer = () => {
    cancelTimer?.();
    cancelTimer = null;
  };

  const flushByTimer = () => {
    cancelTimer = null;
    if (!folded()) return;
    const t = now();
    if (t - lastLine >= interval) summary(t);
    else cancelTimer = setTimer(flushByTimer, lastLine + interval - t);
  };

  /** Something was folded: written now if the interval has passed, else by the next event or the timer. */
  const fold = (t: number) => {
    if (t - lastLine >= interval) {
      stopTimer();
      summary(t);
    } else if (cancelTimer === null) {
      cancelTimer = setTimer(flushByTimer, lastLine + interval - t);
    }
  };

  /** A whole interval without anything folded ends the flapping: transitions are written again. */
  const settle = (t: number) => {
    if (flapping && !folded() && t - lastLine >= interval) {
      flapping = false;
      transitions = [];
    }
  };

  return {
    get down() {
      return down;
    },
    failure(error) {
      const t = now();
      settle(t);
      lastError = messageOf(error);
      if (!down) {
        down = true;
        since = t;
        total = 1;
        if (mayWriteTransition(t)) {
          logger.error({ err: lastError }, `${what}: unavailable; requests that need it fail until it answers again`);
          lastLine = t;
          return;
        }
        outages++;
      } else {
        total++;
      }
      failures++;
      fold(t);
    },
    success() {
      if (!down) return;
      const t = now();
      settle(t);
      down = false;
      if (mayWriteTransition(t)) {
        // the failures since the last summary are in this line's count
        stopTimer();
        failures = 0;
        logger.info({ failures: total, down_ms: t - since, err: lastError }, `${what}: available again after ${total} failures`);
        lastLine = t;
        return;
      }
      recoveries++;
      fold(t);
    },
  };
}
