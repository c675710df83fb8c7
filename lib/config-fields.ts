/** Zod fields both services' configuration schemas use, so a duration or a list reads the same in both. */
import { z } from 'zod';
import { parseDurationMs, DURATION_MS_HELP } from './duration.ts';

/** A timeout in the file (`500ms`, `2s`, or seconds) as milliseconds, at least 1 ms. */
export function timeoutMs(defaultValue: string) {
  return z
    .union([z.string(), z.number()])
    .default(defaultValue)
    .transform((value, ctx) => {
      const ms = parseDurationMs(value);
      if (ms === null || ms < 1) {
        ctx.addIssue({ code: 'custom', message: `'${value}' is not ${DURATION_MS_HELP}` });
        return z.NEVER;
      }
      return ms;
    });
}

/** Authelia accepts a single value wherever a list is expected. */
export function stringList() {
  return z.union([z.string(), z.array(z.string())]).transform((v) => (typeof v === 'string' ? [v] : v));
}
