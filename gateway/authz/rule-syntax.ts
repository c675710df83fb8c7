/**
 * The language of Authelia's `access_control` rules: the policies, the methods, subjects and Go (RE2)
 * regular expressions. Shared by the compiler (rules.ts) and the section's validator
 * (config/validate/access-control.ts), so both read a rule the same way.
 */
import { compileSafeRegex } from './linear-regex.ts';
import { translateRe2 } from './re2.ts';

export type Policy = 'bypass' | 'one_factor' | 'two_factor' | 'deny';

export const POLICIES: readonly Policy[] = ['bypass', 'one_factor', 'two_factor', 'deny'];

/** RFC 7231/5789 and RFC 4918 verbs, as Authelia accepts them in `methods`. */
export const ACL_METHODS: readonly string[] = [
  'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'CONNECT', 'OPTIONS',
  'COPY', 'LOCK', 'MKCOL', 'MOVE', 'PROPFIND', 'PROPPATCH', 'UNLOCK',
];

export interface Rule {
  domain?: string[];
  domain_regex?: string[];
  resources?: string[];
  subject?: (string | string[])[];
  methods?: string[];
  networks?: string[];
  /** Outer list OR, inner list AND (query-criterion.ts). */
  query?: QueryCondition[][];
  policy: Policy;
}

/** One condition of a rule's `query` criterion, as the configuration holds it. */
export interface QueryCondition {
  key?: string;
  value?: unknown;
  operator?: string;
}

export interface AccessControlConfig {
  default_policy: Policy;
  networks: { name: string; networks: string[] }[];
  rules: Rule[];
}

/** Which identity groups (`User`, `Group`) a compiled domain regex captures. */
export function identityGroups(re: RegExp): { user: boolean; group: boolean } {
  return { user: re.source.includes('(?<User>'), group: re.source.includes('(?<Group>') };
}

/**
 * Authelia users write Go (RE2) syntax: `translateRe2` (re2.ts) rewrites it into JavaScript's, or
 * throws `Re2UntranslatableError` for what has no equivalent; anything else wrong fails to compile
 * (the `u` flag makes unknown escapes errors instead of literals), so it is a startup error, not a
 * silent miss.
 *
 * The patterns run on attacker-chosen hosts, paths and query values, so they must not backtrack
 * catastrophically as RE2 never does: see `compileSafeRegex` (which throws `NotLinearRegexError` for
 * a pattern that needs the linear-time engine and cannot have it).
 */
export function compileGoRegex(pattern: string, anchored: boolean, caseInsensitive: boolean): RegExp {
  const { source, caseInsensitive: ci } = translateRe2(pattern, caseInsensitive);
  return compileSafeRegex(anchored ? `^(?:${source})$` : source, ci);
}

const SUBJECT_PREFIXES = ['user:', 'group:', 'oauth2:client:'] as const;

/** `user:NAME`, `group:NAME` or `oauth2:client:NAME`; null for anything else. */
export function parseSubject(value: string): { kind: 'user' | 'group' | 'client'; name: string } | null {
  for (const prefix of SUBJECT_PREFIXES) {
    if (value.startsWith(prefix)) {
      const name = value.slice(prefix.length).trim();
      if (name === '') return null;
      return { kind: prefix === 'user:' ? 'user' : prefix === 'group:' ? 'group' : 'client', name };
    }
  }
  return null;
}
