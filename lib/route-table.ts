/**
 * What both services' route tables have in common: a row says who may call an endpoint (its guard)
 * and how often (its rate limit). `gatehouse routes` prints the rows of both tables with
 * `formatRouteTable`, like fastify's printRoutes; nothing here knows either service.
 */
import { InternalError } from './errors.ts';

/** `WS` is a WebSocket upgrade; `ANY` answers every method the same way; `OPTIONS` is a CORS preflight. */
export type RouteMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS' | 'WS' | 'ANY';

export interface RouteSummary {
  method: RouteMethod;
  /** The path as a client writes it; `:name` for a parameter, a trailing `*` for a prefix. */
  path: string;
  /** The named guard in front of the handler (`PUBLIC`, `READ`, `LEVEL_1`, …). */
  guard: string;
  /** What limits the rate of calls, in words (`password checks`, `regulation`), or null. */
  rateLimit: string | null;
}

const HEADINGS = ['METHOD', 'PATH', 'GUARD', 'RATE LIMIT'] as const;

/** The rows as an aligned text table under a title, one row per line, in the table's own order. */
export function formatRouteTable(title: string, rows: readonly RouteSummary[]): string {
  const cells = rows.map((row) => [row.method, row.path, row.guard, row.rateLimit ?? '-']);
  const widths = HEADINGS.map((heading, i) => Math.max(heading.length, ...cells.map((cell) => cell[i]!.length)));
  const line = (cell: readonly string[]) =>
    cell
      .map((text, i) => (i === cell.length - 1 ? text : text.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [title, line(HEADINGS), ...cells.map(line)].join('\n') + '\n';
}

/** Two rows for one method and path: the second would never answer. Throws at build time, not in a request. */
export function assertDistinctRoutes(rows: readonly RouteSummary[]): void {
  const seen = new Set<string>();
  for (const row of rows) {
    const key = `${row.method} ${row.path}`;
    if (seen.has(key)) throw new InternalError('route_table_invalid', `route table: ${key} appears twice`);
    seen.add(key);
  }
}
