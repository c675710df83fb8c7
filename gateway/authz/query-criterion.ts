/**
 * The `query` criterion of an access rule (Authelia 4.38+): a list of lists of `{key, value, operator}`.
 * The outer list is OR, each inner list AND; an empty inner list matches every request. Evaluated as
 * Authelia's internal/authorization/access_control_query.go does:
 *
 * - the query is parsed as Go's `url.ParseQuery`: pairs split on `&`, a pair holding `;` or invalid
 *   percent-encoding is dropped, `+` is a space, keys and values are percent-decoded;
 * - `equal`/`not equal` and `pattern`/`not pattern` look at the key's first value (`""` when the key
 *   is absent, so `not equal` and `not pattern` match a request without the key); `present`/`absent`
 *   at whether the key occurs at all, even with an empty value;
 * - keys and values are case-sensitive; a pattern is an unanchored Go (RE2) regex;
 * - an omitted operator is `present` when the value is omitted or empty, else `equal`.
 *
 * Authelia compares operator names case-insensitively when validating but not when matching (a rule
 * with `operator: Equal` silently loses that condition there); Gatehouse reads them case-insensitively
 * in both places, so such a condition is applied rather than dropped.
 */
import { compileGoRegex, type QueryCondition } from './rule-syntax.ts';

export type { QueryCondition } from './rule-syntax.ts';

export const QUERY_OPERATORS = ['present', 'absent', 'equal', 'not equal', 'pattern', 'not pattern'] as const;

export type QueryOperator = (typeof QUERY_OPERATORS)[number];

/** The operator a condition means, Authelia's default applied; null when it names none we know. */
export function effectiveOperator(c: QueryCondition): QueryOperator | null {
  if (c.operator === undefined || c.operator === '') {
    return c.value === undefined || c.value === null || c.value === '' ? 'present' : 'equal';
  }
  const op = c.operator.toLowerCase();
  return (QUERY_OPERATORS as readonly string[]).includes(op) ? (op as QueryOperator) : null;
}

/** The parsed query: every value of each key, in order. */
export type QueryValues = Map<string, string[]>;

function unescape(s: string): string | null {
  const plus = s.replace(/\+/g, ' ');
  if (!plus.includes('%')) return plus;
  if (/%(?![0-9a-fA-F]{2})/.test(plus)) return null;
  const bytes: number[] = [];
  for (let i = 0; i < plus.length; i++) {
    if (plus[i] === '%') {
      bytes.push(parseInt(plus.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      for (const b of Buffer.from(plus[i]!, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Go's `url.ParseQuery` on the raw query (without `?`), keeping what it keeps. */
export function parseQuery(raw: string): QueryValues {
  const values: QueryValues = new Map();
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (pair.includes(';')) continue; // Go refuses `;` as a separator and drops the pair
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const key = unescape(rawKey);
    const value = unescape(eq === -1 ? '' : pair.slice(eq + 1));
    if (key === null || value === null) continue;
    const list = values.get(key);
    if (list === undefined) values.set(key, [value]);
    else list.push(value);
  }
  return values;
}

/** The query of a rule-matching path (`/p?query`); empty when there is none. */
export function queryOf(path: string): QueryValues {
  const q = path.indexOf('?');
  return parseQuery(q === -1 ? '' : path.slice(q + 1));
}

type Matcher = (query: QueryValues) => boolean;

function conditionMatcher(c: QueryCondition): Matcher {
  const key = c.key ?? '';
  const first = (q: QueryValues): string => q.get(key)?.[0] ?? '';
  switch (effectiveOperator(c)) {
    case 'present': return (q) => q.has(key);
    case 'absent': return (q) => !q.has(key);
    case 'equal': return (q) => first(q) === String(c.value);
    case 'not equal': return (q) => first(q) !== String(c.value);
    case 'pattern':
    case 'not pattern': {
      const re = compileGoRegex(String(c.value), false, false);
      const want = effectiveOperator(c) === 'pattern';
      return (q) => re.test(first(q)) === want;
    }
    default:
      // validation refuses it first; should it ever get here, the condition fails rather than vanishes
      return () => false;
  }
}

/** The criterion as one function of the parsed query; null when the rule has none (matches all). */
export function compileQueryCriterion(query: readonly (readonly QueryCondition[])[] | undefined): Matcher | null {
  if (query === undefined || query.length === 0) return null;
  const any = query.map((all) => all.map(conditionMatcher));
  return (q) => any.some((all) => all.every((m) => m(q)));
}
