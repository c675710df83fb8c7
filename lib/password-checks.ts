/**
 * One gate in front of every password verification of a process (argon2, bcrypt, pbkdf2, the dummy
 * check for unknown users): at most `concurrency` run at once, a short bounded queue waits, and one
 * client may have only `perClient` attempts in flight (from its arrival, database work included, to its
 * answer). Anything over a limit is refused at once with a Retry-After, so a flood of guesses never
 * becomes an ever-growing wait for everyone. A freed slot goes to the waiting client with the fewest
 * attempts in flight (the oldest among equals), and when the queue is full a client with fewer attempts
 * in flight than the heaviest waiting one takes the place of that one's newest queued check: a few
 * flooding addresses cannot keep everyone else out.
 */
import type { PasswordChecksConfig } from './config-fields.ts';
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

const DEFAULT_MAX_WAIT_MS = 3_000;
const DEFAULT_PER_CLIENT = 4;

/** Limits with every unset one at its default; `threadsPerCheck` is the configured argon2 parallelism. */
function passwordCheckLimits(limits: Partial<PasswordCheckLimits> = {}, threadsPerCheck = 1): PasswordCheckLimits {
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
  declare readonly code: 'password_checks_busy';
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

/** One client's attempt, counted from its arrival until release(). */
export interface PasswordCheckTicket {
  /** Runs `check` when a slot is free; throws PasswordChecksBusy (without running it) when over a limit. */
  check<T>(check: () => Promise<T>): Promise<T>;
  /** The attempt is over: its client's share is free again (idempotent). */
  release(): void;
}

export interface PasswordCheckLimiter {
  readonly limits: PasswordCheckLimits;
  /**
   * Counts an attempt of `client` (a clientKey) now, before any work is spent on it; throws
   * PasswordChecksBusy('client') when that client already has `perClient` attempts in flight.
   */
  admit(client: string): PasswordCheckTicket;
  /** admit(), check() and release() in one. */
  run<T>(client: string, check: () => Promise<T>): Promise<T>;
  stats(): PasswordCheckStats;
}

interface Waiter {
  client: string;
  start(): void;
  refuse(reason: BusyReason): void;
  timer: NodeJS.Timeout;
}

export function createPasswordCheckLimiter(limits: Partial<PasswordCheckLimits> = {}, threadsPerCheck = 1): PasswordCheckLimiter {
  const l = passwordCheckLimits(limits, threadsPerCheck);
  const retryAfterSeconds = Math.max(1, Math.ceil(l.maxWaitMs / 1000));
  const perClient = new Map<string, number>();
  const waiting: Waiter[] = [];
  const rejected: Record<BusyReason, number> = { client: 0, queue: 0, wait: 0 };
  let running = 0;

  const busy = (reason: BusyReason): PasswordChecksBusy => {
    rejected[reason]++;
    return new PasswordChecksBusy(reason, retryAfterSeconds);
  };
  const inFlight = (client: string) => perClient.get(client) ?? 0;
  const next = () => {
    let pick = -1;
    for (let i = 0; i < waiting.length; i++) {
      if (pick === -1 || inFlight(waiting[i]!.client) < inFlight(waiting[pick]!.client)) pick = i;
    }
    if (pick === -1) return;
    const [waiter] = waiting.splice(pick, 1);
    clearTimeout(waiter!.timer);
    waiter!.start();
  };
  /** The newest queued check of the client with the most attempts in flight, if that is more than `than`. */
  const heaviestWaiter = (than: number): number => {
    let pick = -1;
    for (let i = waiting.length - 1; i >= 0; i--) {
      if (inFlight(waiting[i]!.client) > (pick === -1 ? than : inFlight(waiting[pick]!.client))) pick = i;
    }
    return pick;
  };
  const count = (client: string, delta: number) => {
    const n = inFlight(client) + delta;
    if (n <= 0) perClient.delete(client);
    else perClient.set(client, n);
  };

  const admit = (client: string): PasswordCheckTicket => {
    if (inFlight(client) >= l.perClient) throw busy('client');
    count(client, 1);
    let released = false;
    return {
      async check(check) {
        if (running >= l.concurrency) {
          if (waiting.length >= l.queue) {
            // a lighter client takes the place of the heaviest one's newest queued check
            const evict = heaviestWaiter(inFlight(client));
            if (evict === -1) throw busy('queue');
            const [waiter] = waiting.splice(evict, 1);
            clearTimeout(waiter!.timer);
            waiter!.refuse('queue');
          }
          await new Promise<void>((resolve, reject) => {
            const waiter: Waiter = {
              client,
              start: resolve,
              refuse: (reason) => reject(busy(reason)),
              timer: setTimeout(() => {
                waiting.splice(waiting.indexOf(waiter), 1);
                waiter.refuse('wait');
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
      },
      release() {
        if (released) return;
        released = true;
        count(client, -1);
      },
    };
  };

  return {
    limits: l,
    admit,
    async run(client, check) {
      const ticket = admit(client);
      try {
        return await ticket.check(check);
      } finally {
        ticket.release();
      }
    },
    stats: () => ({ running, queued: waiting.length, rejected: { ...rejected } }),
  };
}

/** The limiter a service's `password_checks` section describes (lib/config-fields.ts). */
export function passwordCheckLimiterFor(config: PasswordChecksConfig, threadsPerCheck: number): PasswordCheckLimiter {
  return createPasswordCheckLimiter(
    { concurrency: config.concurrency, queue: config.queue, maxWaitMs: config.max_wait, perClient: config.per_client },
    threadsPerCheck,
  );
}
