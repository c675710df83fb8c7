/**
 * Logging a backend outage without one line per request: the first failure, then at most one summary
 * per interval (how many failed since the last line, the last error), then the recovery.
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

export const OUTAGE_SUMMARY_INTERVAL_MS = 10_000;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `what` names the backend in every line, e.g. 'session store (redis)'. */
export function createOutageLog(logger: Logger, what: string, options: { now?: () => number; intervalMs?: number } = {}): OutageLog {
  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? OUTAGE_SUMMARY_INTERVAL_MS;
  let down = false;
  let since = 0;
  let lastLine = 0;
  let total = 0;
  let unreported = 0;
  let lastError = '';
  return {
    get down() {
      return down;
    },
    failure(error) {
      const t = now();
      lastError = messageOf(error);
      total++;
      if (!down) {
        down = true;
        since = t;
        lastLine = t;
        total = 1;
        unreported = 0;
        logger.error({ err: lastError }, `${what}: unavailable; requests that need it fail until it answers again`);
        return;
      }
      unreported++;
      if (t - lastLine >= interval) {
        logger.error({ failures: unreported, err: lastError, down_ms: t - since }, `${what}: still unavailable, ${unreported} more failures since the last line`);
        lastLine = t;
        unreported = 0;
      }
    },
    success() {
      if (!down) return;
      down = false;
      logger.info({ failures: total, down_ms: now() - since, err: lastError }, `${what}: available again after ${total} failures`);
    },
  };
}
