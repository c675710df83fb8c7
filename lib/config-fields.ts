/** Zod fields both services' configuration schemas use, so a duration or a list reads the same in both. */
import { z } from 'zod';
import { parseDuration, parseDurationMs, DURATION_HELP, DURATION_MS_HELP } from './duration.ts';

/** A duration in the file (`500ms`, `2s`, or seconds) as milliseconds, at least `minimum`. */
function toMs(minimum: number) {
  return (value: string | number, ctx: z.core.$RefinementCtx): number => {
    const ms = parseDurationMs(value);
    if (ms === null || ms < minimum) {
      ctx.addIssue({ code: 'custom', message: `'${value}' is not ${DURATION_MS_HELP}` });
      return z.NEVER;
    }
    return ms;
  };
}

/** A timeout in the file as milliseconds, at least 1 ms. */
export function timeoutMs(defaultValue: string) {
  return z.union([z.string(), z.number()]).default(defaultValue).transform(toMs(1));
}

/** A duration in ms that may be left out; 0 is kept, for the reader to take as "the default" (Authelia's `== 0`). */
export function optionalMs() {
  return z.union([z.string(), z.number()]).transform(toMs(0)).optional();
}

/** A duration in the file (string or seconds) that parses to whole seconds. */
function toSeconds(value: string | number, ctx: z.core.$RefinementCtx): number {
  const seconds = parseDuration(value);
  if (seconds === null) {
    ctx.addIssue({ code: 'custom', message: `'${value}' is not ${DURATION_HELP}` });
    return z.NEVER;
  }
  return seconds;
}

export function duration(): z.ZodPipe<z.ZodUnion<[z.ZodString, z.ZodNumber]>, z.ZodTransform<number, string | number>>;
export function duration(defaultValue: string): z.ZodPipe<z.ZodDefault<z.ZodUnion<[z.ZodString, z.ZodNumber]>>, z.ZodTransform<number, string | number>>;
export function duration(defaultValue?: string) {
  const input = z.union([z.string(), z.number()]);
  return defaultValue === undefined ? input.transform(toSeconds) : input.default(defaultValue).transform(toSeconds);
}

/** Authelia accepts a single value wherever a list is expected. */
export function stringList() {
  return z.union([z.string(), z.array(z.string())]).transform((v) => (typeof v === 'string' ? [v] : v));
}

/**
 * `password_checks` of both services: the one gate in front of every password check
 * (lib/password-checks.ts); more than this in flight is refused with 429 and Retry-After instead of
 * waiting behind a flood of guesses.
 */
export function passwordChecksField() {
  return z
    .strictObject({
      /** Checks computed at once; default: the number of CPUs ÷ argon2 parallelism (at least 1). */
      concurrency: z.number().int().min(1).max(1024).optional(),
      /** Checks waiting for a free slot; default: 4 × concurrency. */
      queue: z.number().int().min(0).max(100_000).optional(),
      /** Longest a check waits in the queue before it is refused (ms). */
      max_wait: timeoutMs('3s'),
      /** Checks one client address (an IPv6 client by its /64) may have running or waiting. */
      per_client: z.number().int().min(1).max(1024).default(4),
    })
    .prefault({});
}

export type PasswordChecksConfig = z.output<ReturnType<typeof passwordChecksField>>;
