/** `gatehouse --help`'s list of commands, and the nearest command to a mistyped one. */
import type { CommandSummary } from '../../lib/cli-io.ts';

const USAGE_COLUMN = 35;

/** Usage on the left, what it does on the right; a usage too long for its column gets a line of its own. */
export function formatOverview(summaries: readonly CommandSummary[]): string {
  const lines: string[] = [];
  for (const { usage, summary } of summaries) {
    const [first = '', ...more] = summary.split('\n');
    if (usage.length >= USAGE_COLUMN) lines.push(`  ${usage}`, `  ${' '.repeat(USAGE_COLUMN)}${first}`);
    else lines.push(`  ${usage.padEnd(USAGE_COLUMN)}${first}`.trimEnd());
    for (const line of more) lines.push(`  ${' '.repeat(USAGE_COLUMN)}${line}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Edits (insert, delete, substitute) between two words: Levenshtein's distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The closest name within two edits (the first of equals), or undefined: a guess further off helps nobody. */
export function nearestName(word: string, names: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  // a long word cannot be within two edits of a much shorter or longer one: not worth comparing
  for (const name of names) {
    if (Math.abs(name.length - word.length) > 2) continue;
    const distance = editDistance(word.toLowerCase(), name);
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}
