/**
 * The language of Authelia's `access_control` rules: the policies, the methods, subjects and Go (RE2)
 * regular expressions. Shared by the compiler (rules.ts) and the section's validator
 * (config/validate/access-control.ts), so both read a rule the same way.
 */
import { compileSafeRegex } from './linear-regex.ts';

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
  /** Not supported: a rule carrying it is refused by validation rather than silently widened. */
  query?: unknown;
  policy: Policy;
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
 * Authelia users write Go (RE2) syntax. Rewrites the Go-only bits that have a JS equivalent: `(?P<name>` → `(?<name>`, `\A` → `^`,
 * `\z` → `$`, and a leading `(?i)` → the `i` flag. Anything else Go-only fails to compile (the `u`
 * flag makes unknown escapes errors instead of literals), so it is a startup error, not a silent miss.
 *
 * The patterns run on attacker-chosen hosts and paths, so they must not backtrack catastrophically
 * as RE2 never does: see `compileSafeRegex` (which throws `NotLinearRegexError` for a backreference,
 * lookaround, or a pattern that needs the linear-time engine and cannot have it).
 */
export function compileGoRegex(pattern: string, anchored: boolean, caseInsensitive: boolean): RegExp {
  let src = pattern;
  if (src.startsWith('(?i)')) {
    src = src.slice(4);
    caseInsensitive = true;
  }
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      const next = src[i + 1] ?? '';
      if (!inClass && next === 'A') out += '^';
      else if (!inClass && next === 'z') out += '$';
      else out += c + next;
      i++;
    } else if (c === '[' && !inClass) {
      inClass = true;
      out += c;
    } else if (c === ']' && inClass) {
      inClass = false;
      out += c;
    } else if (!inClass && c === '(' && src.startsWith('(?P<', i)) {
      out += '(?<';
      i += 3;
    } else {
      out += c;
    }
  }
  return compileSafeRegex(anchored ? `^(?:${out})$` : out, caseInsensitive);
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
