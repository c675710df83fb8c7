/**
 * Startup checks: before the gateway serves anything, every provider the configuration names (storage,
 * session store, users, notifier) is opened and asked whether
 * it works. Every failure is collected and
 * the start fails with one line per provider (`startup check failed: storage: …`) and its own exit
 * code. `gatehouse config validate --check` runs the same checks and prints one line per provider.
 */
import { rejectAfter } from '../lib/deadline.ts';
import { GatehouseError } from '../lib/errors.ts';

export interface StartupCheck {
  /** the provider, as the operator reads it: storage, session store, notifier, users */
  readonly name: string;
  /** Rejects with a message fit for the operator; may resolve with a short note of what it found. */
  run(): Promise<string | void>;
}

export type StartupCheckResult = { name: string; ok: true; note?: string } | { name: string; ok: false; reason: string };

/** The exit code of a start (or `config validate --check`) that a failed startup check stopped. */
export const STARTUP_CHECK_EXIT_CODE = 3;

/**
 * A backstop: each provider bounds its own checks by its configured timeouts (storage.postgres.timeout,
 * session.redis.timeout and command_timeout), which are shorter; this catches one that does not.
 */
const STARTUP_CHECK_TIMEOUT_MS = 60_000;

/**
 * How long each provider's close() may take once a start is given up: a provider stuck closing must
 * not keep the process from exiting with the failure.
 */
const PROVIDER_CLOSE_TIMEOUT_MS = 5_000;

export interface StartupCheckFailure {
  name: string;
  reason: string;
}

export class StartupCheckError extends GatehouseError {
  declare readonly code: 'startup_check_failed';
  readonly failures: readonly StartupCheckFailure[];
  constructor(failures: readonly StartupCheckFailure[]) {
    super('startup_check_failed', failures.map((failure) => `startup check failed: ${failure.name}: ${failure.reason}`).join('\n'));
    this.failures = failures;
  }
}

/** The error's message without a leading `<name>: ` (the check's line names the provider already). */
function reasonOf(name: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith(`${name}: `) ? message.slice(name.length + 2) : message;
}

function within<T>(work: Promise<T>, ms: number): Promise<T> {
  return rejectAfter(work, ms, () => new GatehouseError('startup_check_failed', `no answer within ${ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`}`));
}

/**
 * Runs every check and reports each, in order; never rejects. One after the other: a provider's
 * synchronous work (SQLite's migrations block the event loop) must not eat another's timeout, and a
 * failure does not stop the checks after it, so every failure is named.
 */
export async function runStartupChecks(checks: readonly StartupCheck[], options: { timeoutMs?: number } = {}): Promise<StartupCheckResult[]> {
  const timeoutMs = options.timeoutMs ?? STARTUP_CHECK_TIMEOUT_MS;
  const results: StartupCheckResult[] = [];
  for (const check of checks) {
    try {
      const note = await within(Promise.resolve().then(() => check.run()), timeoutMs);
      results.push(note ? { name: check.name, ok: true, note } : { name: check.name, ok: true });
    } catch (error) {
      results.push({ name: check.name, ok: false, reason: reasonOf(check.name, error) });
    }
  }
  return results;
}

/** `storage: ok (…)` or `storage: failed: …`, as `config validate --check` prints it. */
export function describeResult(result: StartupCheckResult): string {
  if (!result.ok) return `${result.name}: failed: ${result.reason}`;
  return result.note ? `${result.name}: ok (${result.note})` : `${result.name}: ok`;
}

export interface ProviderStep<P> {
  readonly name: string;
  open(): Promise<P>;
  /** The provider's startup check, once it is open. */
  check?(provider: P): Promise<unknown>;
  close(provider: P): Promise<unknown>;
}

/**
 * Opens and checks every provider, as runStartupChecks runs checks. If any cannot be opened or fails
 * its check, closes those that were opened (each given `closeTimeoutMs`) and throws StartupCheckError
 * naming every failure, so one start reports all that is wrong.
 */
export async function openProviders<const T extends readonly unknown[]>(
  steps: { readonly [K in keyof T]: ProviderStep<T[K]> },
  options: { timeoutMs?: number; closeTimeoutMs?: number } = {},
): Promise<T> {
  const list = steps as readonly ProviderStep<unknown>[];
  const opened = new Map<number, unknown>();
  let failed = false;
  const results = await runStartupChecks(
    list.map((step, index) => ({
      name: step.name,
      run: async () => {
        const provider = await step.open();
        // opened after its timeout ran out and the start was given up: nobody will use it
        if (failed) return void (await step.close(provider));
        opened.set(index, provider);
        await step.check?.(provider);
      },
    })),
    options,
  );
  const failures = results.filter((result) => !result.ok);
  if (failures.length > 0) {
    failed = true;
    const closeTimeoutMs = options.closeTimeoutMs ?? PROVIDER_CLOSE_TIMEOUT_MS;
    await Promise.allSettled([...opened].map(([index, provider]) => within(Promise.resolve().then(() => list[index]!.close(provider)), closeTimeoutMs)));
    throw new StartupCheckError(failures);
  }
  return list.map((_, index) => opened.get(index)) as unknown as T;
}
