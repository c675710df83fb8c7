/**
 * Process shutdown on SIGTERM/SIGINT, for both services: close everything once (listeners drain,
 * then stores close), exit 0 when done, 1 if a close failed or the deadline passed first; a second
 * signal exits at once. Installed before anything starts, so a signal during startup is not the
 * default (abrupt) exit; `add` registers each service as it comes up.
 */
import type { Logger } from 'pino';
import { closeLogFile } from './logger.ts';

const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
/** What the stores get to close in after the listeners drained, inside the same shutdown_timeout. */
const STORE_CLOSE_MARGIN_MS = 1_000;

/**
 * How long listeners may drain running requests within `shutdownTimeoutMs` (the process's deadline):
 * the rest is left for closing the stores, so a full drain does not meet the deadline with the stores
 * still open (at least half the timeout either way).
 */
export function drainBudget(shutdownTimeoutMs: number): number {
  return Math.max(Math.floor(shutdownTimeoutMs / 2), shutdownTimeoutMs - STORE_CLOSE_MARGIN_MS);
}

export interface Shutdown {
  add(close: () => Promise<void>): void;
  useLogger(logger: Logger): void;
  /** The deadline from the configuration (the longest asked for wins). */
  useDeadline(ms: number): void;
}

export function stopOnSignals(exit: (code: number) => void = (code) => process.exit(code)): Shutdown {
  const closers: Array<() => Promise<void>> = [];
  let logger: Logger | null = null;
  let deadlineMs = 0;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger?.warn({ signal }, 'second signal: exiting now');
      return exit(1);
    }
    stopping = true;
    const deadline = deadlineMs || DEFAULT_SHUTDOWN_TIMEOUT_MS;
    logger?.info({ signal, deadline_ms: deadline }, 'shutting down: finishing running requests, then closing stores');
    // a hung store or a request that never ends must not hold the process
    setTimeout(() => {
      logger?.error({ deadline_ms: deadline }, 'shutdown deadline passed: exiting with work unfinished');
      exit(1);
    }, deadline).unref();
    // the log file is written asynchronously: its last lines (this shutdown's) are written out before exit
    const finish = (code: number) => {
      void (logger ? closeLogFile(logger) : Promise.resolve()).catch(() => undefined).then(() => exit(code));
    };
    Promise.all(closers.map((close) => close())).then(
      () => finish(0),
      (error: Error) => {
        logger?.error({ err: error.message }, 'shutdown failed');
        finish(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return {
    add: (close) => closers.push(close),
    useLogger: (l) => {
      logger = l;
    },
    useDeadline: (ms) => {
      deadlineMs = Math.max(deadlineMs, ms);
    },
  };
}
