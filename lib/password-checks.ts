/**
 * One gate in front of every password verification of a process (argon2, bcrypt, pbkdf2, the dummy
 * check for unknown users): at most `concurrency` run at once, a short bounded queue waits, and one
 * client may have only `perClient` checks running or waiting. Anything over a limit is refused at
 * once with a Retry-After, so a flood of guesses never becomes an ever-growing wait for everyone.
 * A freed slot goes to the waiting client with the fewest checks in flight (the oldest among equals),
 * so a flooding client's waiting checks do not stand in front of everyone else's.
 */
import { availableParallelism } from 'node:os';
import { GatehouseError } from './errors.ts';

export interface PasswordCheckLimits {
  /**
   * Verifications running at once. Default: the number of CPUs divided by the threads one check keeps
   * busy (argon2's parallelism; at least 1), so the running checks fill the CPUs without sharing them:
   * a check that shares its CPU with another takes twice as long, and so does every login.
   */
  concurrency: number;
  /** Verifications waiting for a free slot (default: 4 × concurrency). */
  queue: number;
  /** Longest a verification waits in the queue before it is refused, ms. */
  maxWaitMs: number;
  /** Verifications one client may have running or waiting. */
  perClient: number;
}

export const DEFAULT_MAX_WAIT_MS = 3_000;
export const DEFAULT_PER_CLIENT = 4;

/** Limits with every unset one at its default; `threadsPerCheck` is the configured argon2 parallelism. */
export function passwordCheckLimits(limits: Partial<PasswordCheckLimits> = {}, threadsPerCheck = 1): PasswordCheckLimits {
  const cpus = availableParallelism();
  const concurrency = limits.concurrency ?? Math.max(1, Math.floor(cpus / Math.min(Math.max(1, threadsPerCheck), cpus)));
  return {
    concurrency,
    queue: limits.queue ?? 4 * concurrency,
    maxWaitMs: limits.maxWaitMs ?? DEFAULT_MAX_WAIT_MS,
    perClient: limits.perClient ?? DEFAULT_PER_CLIENT,
  };
}

export type BusyReason = 'client' | 'queue' | 'wait';

/** Too many password checks in flight: the attempt was not checked; try again after `retryAfterSeconds`. */
export class PasswordChecksBusy extends GatehouseError {
  readonly reason: BusyReason;
  readonly retryAfterSeconds: number;
  constructor(reason: BusyReason, retryAfterSeconds: number) {
    super('password_checks_busy', `Too many sign-in attempts are being checked right now; try again in ${retryAfterSeconds} s.`);
    this.reason = reason;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export interface PasswordCheckStats {
  running: number;
  queued: number;
  /** Refusals since start, by which limit refused. */
  rejected: Record<BusyReason, number>;
}

export interface PasswordCheckLimiter {
  readonly limits: PasswordCheckLimits;
  /** Runs `check` when a slot is free; throws PasswordChecksBusy (without running it) when over a limit. */
  run<T>(client: string, check: () => Promise<T>): Promise<T>;
  stats(): PasswordCheckStats;
}

interface Waiter {
  client: string;
  start(): void;
  timer: NodeJS.Timeout;
}

export function createPasswordCheckLimiter(limits: Partial<PasswordCheckLimits> = {}, threadsPerCheck = 1): PasswordCheckLimiter {
  const l = passwordCheckLimits(limits, threadsPerCheck);
  const retryAfterSeconds = Math.max(1, Math.ceil(l.maxWaitMs / 1000));
  const perClient = new Map<string, number>();
  const waiting: Waiter[] = [];
  const rejected: Record<BusyReason, number> = { client: 0, queue: 0, wait: 0 };
  let running = 0;

  const refuse = (reason: BusyReason): never => {
    rejected[reason]++;
    throw new PasswordChecksBusy(reason, retryAfterSeconds);
  };
  const next = () => {
    let pick = -1;
    for (let i = 0; i < waiting.length; i++) {
      if (pick === -1 || (perClient.get(waiting[i]!.client) ?? 0) < (perClient.get(waiting[pick]!.client) ?? 0)) pick = i;
    }
    if (pick === -1) return;
    const [waiter] = waiting.splice(pick, 1);
    clearTimeout(waiter!.timer);
    waiter!.start();
  };
  const count = (map: Map<string, number>, client: string, delta: number) => {
    const n = (map.get(client) ?? 0) + delta;
    if (n <= 0) map.delete(client);
    else map.set(client, n);
  };

  return {
    limits: l,
    async run(client, check) {
      if ((perClient.get(client) ?? 0) >= l.perClient) refuse('client');
      if (running >= l.concurrency && waiting.length >= l.queue) refuse('queue');
      count(perClient, client, 1);
      try {
        if (running >= l.concurrency) {
          await new Promise<void>((resolve, reject) => {
            const waiter: Waiter = {
              client,
              start: resolve,
              timer: setTimeout(() => {
                waiting.splice(waiting.indexOf(waiter), 1);
                try {
                  refuse('wait');
                } catch (error) {
                  reject(error);
                }
              }, l.maxWaitMs),
            };
            waiting.push(waiter);
          });
        }
        running++;
        try {
          return await check();
        } finally {
          running--;
          next();
        }
      } finally {
        count(perClient, client, -1);
      }
    },
    stats: () => ({ running, queued: waiting.length, rejected: { ...rejected } }),
  };
}
