/**
 * Durations as Authelia writes them (its utils.ParseDurationString): `90s`, `5m`, `1h`, `1d`, `1w`, `1M`
 * (30 days), `1y`, `500ms` (and Go's `ns`, `us`, `µs`), combined (`1h30m`), spelled out as in Authelia's
 * template (`5 minutes`, `1 hour and 30 minutes`, `250 milliseconds`), or plain seconds. An option counted in
 * seconds takes a part of a second as a whole second (`1500ms` is 2s).
 */
const UNIT_SECONDS: Record<string, number> = {
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 7 * 86_400,
  M: 30 * 86_400,
  y: 365 * 86_400,
};

const LONG_UNITS: Record<string, string> = {
  second: 's', minute: 'm', hour: 'h', day: 'd', week: 'w', month: 'M', year: 'y',
};

function unitSeconds(unit: string): number | undefined {
  if (unit in UNIT_SECONDS) return UNIT_SECONDS[unit];
  const singular = unit.toLowerCase().replace(/s$/, '');
  const short = LONG_UNITS[singular];
  return short === undefined ? undefined : UNIT_SECONDS[short];
}

/** Units shorter than a second, in milliseconds (Go's time.ParseDuration units and Authelia's long form). */
const SUBSECOND_MS: Record<string, number> = {
  ms: 1, millisecond: 1, milliseconds: 1, us: 0.001, 'µs': 0.001, 'μs': 0.001, ns: 0.000_001,
};

function unitMs(unit: string): number | undefined {
  if (unit in SUBSECOND_MS) return SUBSECOND_MS[unit];
  const seconds = unitSeconds(unit);
  return seconds === undefined ? undefined : seconds * 1000;
}

const DURATION_RE = /^\d+ ?[A-Za-zµμ]+(?:(?: and | |)\d+ ?[A-Za-zµμ]+)*$/;
const PART_RE = /(\d+) ?([A-Za-zµμ]+)/g;

/** `5m30s` or `1 hour and 30 minutes` in milliseconds, rounded up to a whole one (a few ns are 1 ms, never 0), or null. */
function textMs(text: string): number | null {
  if (!DURATION_RE.test(text)) return null;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART_RE)) {
    const value = unitMs(unit!);
    if (value === undefined) return null;
    total += Number(amount) * value;
  }
  // ns and µs add fractions of a millisecond: their float error is cut before rounding up
  return Math.ceil(Math.round(total * 1e6) / 1e6);
}

/** Seconds for a duration, or null when the text is not a duration. `-1` passes through (Authelia's "disabled"). */
export function parseDuration(value: string | number): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= -1 ? value : null;
  const text = value.trim().replace(/\s+/g, ' ');
  if (/^-?\d+$/.test(text)) return parseDuration(Number(text));
  const ms = textMs(text);
  return ms === null ? null : Math.ceil(ms / 1000);
}

export const DURATION_HELP = "a duration such as '90s', '5m', '1h', '1d', '1M', '1y', '500ms', '5 minutes' or a number of seconds";

/**
 * Milliseconds for a duration that may be shorter than a second (`500ms`, `1s500ms`, `2s`, or plain
 * seconds as everywhere else), or null. Used by timeouts, where whole seconds are too coarse.
 */
export function parseDurationMs(value: string | number): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value * 1000 : null;
  const text = value.trim().replace(/\s+/g, ' ');
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  return textMs(text);
}

export const DURATION_MS_HELP = "a duration such as '500ms', '2s', '1m' or a number of seconds";
