/** Durations as Authelia writes them: `90s`, `5m`, `1h`, `1d`, `1w`, `1M` (30 days), `1y`, combined (`1h30m`), or plain seconds. */
const UNIT_SECONDS: Record<string, number> = {
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 7 * 86_400,
  M: 30 * 86_400,
  y: 365 * 86_400,
};

const DURATION_RE = /^(?:\d+[smhdwMy])+$/;
const PART_RE = /(\d+)([smhdwMy])/g;

/** Seconds for a duration, or null when the text is not a duration. `-1` passes through (Authelia's "disabled"). */
export function parseDuration(value: string | number): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= -1 ? value : null;
  const text = value.trim();
  if (/^-?\d+$/.test(text)) return parseDuration(Number(text));
  if (!DURATION_RE.test(text)) return null;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART_RE)) total += Number(amount) * UNIT_SECONDS[unit!]!;
  return total;
}

export const DURATION_HELP = "a duration such as '90s', '5m', '1h', '1d', '1M', '1y' or a number of seconds";
