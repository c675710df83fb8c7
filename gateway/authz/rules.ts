/**
 * Access control: Authelia's `access_control` rules, compiled once and evaluated on every forward-auth
 * request. First matching rule wins, else `default_policy`.
 */
import { domainToASCII } from 'node:url';
import { ConfigError } from '../../lib/errors.ts';
import { makeAddressMatcher, parseCidr } from '../../lib/net/address.ts';
import { compileSafeRegex, NotLinearRegexError } from './linear-regex.ts';

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

export interface AccessRequest {
  /** Lower-case, without port. */
  host: string;
  /** Output of `normalisePath`: canonical path plus `?query`. */
  path: string;
  method: string;
  /** Client address; absent or unparseable matches no `networks` criterion. */
  ip?: string;
}

export interface AccessSubject {
  username?: string;
  groups: string[];
  clientId?: string;
}

export interface AccessDecision {
  policy: Policy;
  /** Index into `rules`, -1 for `default_policy`. */
  rule: number;
  /**
   * The rule names users or groups (subject, `{user}`/`{group}`, `User`/`Group` regex groups). For an
   * anonymous request such a rule matched only provisionally: the caller sends the user to log in,
   * even on `deny` (Authelia "Rule Matching Concept 2").
   */
  hasSubjects: boolean;
}

export type SubjectMatch = 'hit' | 'miss' | 'may';

/** How each criterion of one rule fared, for `access-control check`. */
export interface RuleCheck {
  rule: number;
  policy: Policy;
  domain: boolean;
  resources: boolean;
  methods: boolean;
  networks: boolean;
  /** `may`: anonymous request on a rule with subject criteria (matches, forcing login). */
  subjects: SubjectMatch;
  matched: boolean;
}

export interface Authorizer {
  readonly defaultPolicy: Policy;
  evaluate(request: AccessRequest, subject: AccessSubject | null): AccessDecision;
  /** Every rule with the outcome of each criterion; the slow path, for diagnostics only. */
  explain(request: AccessRequest, subject: AccessSubject | null): RuleCheck[];
}

/** Authentication level a policy requires; `deny` is unreachable. */
export function requiredLevel(policy: Policy): number {
  switch (policy) {
    case 'bypass': return 0;
    case 'one_factor': return 1;
    case 'two_factor': return 2;
    default: return Infinity; // deny, and anything unknown
  }
}

/** True when some request can require a second factor (OIDC client policies are checked elsewhere). */
export function isSecondFactorRequiredAnywhere(cfg: AccessControlConfig): boolean {
  return cfg.default_policy === 'two_factor' || cfg.rules.some((r) => r.policy === 'two_factor');
}

// ---------------------------------------------------------------------------------------------------
// Regular expressions: Authelia users write Go (RE2) syntax.

/** Which identity groups (`User`, `Group`) a compiled domain regex captures. */
function identityGroups(re: RegExp): { user: boolean; group: boolean } {
  return { user: re.source.includes('(?<User>'), group: re.source.includes('(?<Group>') };
}

/**
 * Rewrites the Go-only bits that have a JS equivalent: `(?P<name>` → `(?<name>`, `\A` → `^`,
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

// ---------------------------------------------------------------------------------------------------
// Validation

function quoteList(values: readonly string[], last: 'or' | 'and'): string {
  const q = values.map((v) => `'${v}'`);
  return q.length <= 1 ? (q[0] ?? '') : `${q.slice(0, -1).join(', ')} ${last} ${q[q.length - 1]}`;
}

const SUBJECT_PREFIXES = ['user:', 'group:', 'oauth2:client:'] as const;

function parseSubject(value: string): { kind: 'user' | 'group' | 'client'; name: string } | null {
  for (const prefix of SUBJECT_PREFIXES) {
    if (value.startsWith(prefix)) {
      const name = value.slice(prefix.length).trim();
      if (name === '') return null;
      return { kind: prefix === 'user:' ? 'user' : prefix === 'group:' ? 'group' : 'client', name };
    }
  }
  return null;
}

function identityDomain(domain: string): boolean {
  const d = domain.toLowerCase();
  return d.startsWith('{user}.') || d.startsWith('{group}.');
}

/** V8 repeats the whole pattern in its message; the problem already quotes it, so keep the reason. */
function regexErrorReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^Invalid regular expression: \/[\s\S]*\/[dgimlsuyv]*: /, '');
}

/** The problem for a pattern `compileGoRegex` refused. */
function regexProblem(where: string, option: 'domain_regex' | 'resources', pattern: string, err: unknown): string {
  const head = `${where}: option '${option}' value '${pattern}'`;
  if (err instanceof NotLinearRegexError) {
    return err.reason === 'backreference_or_lookaround'
      ? `${head} uses a construct that cannot run in linear time (backreferences or lookaround); RE2 syntax as in Authelia`
      : `${head} could backtrack for a very long time on a crafted request (it repeats a group holding a quantifier or '|', or has several unbounded quantifiers, or one without a leading '^'), and the linear-time engine Gatehouse runs such patterns on does not support ${err.message}: simplify the pattern`;
  }
  return `${head} is not a valid regular expression: ${regexErrorReason(err)}`;
}

/** Every problem in the section, each naming the option (`access_control: rules[0]: …`). */
export function validateAccessControl(cfg: AccessControlConfig): string[] {
  const problems: string[] = [];
  const policyList = quoteList(POLICIES, 'or');

  if (!POLICIES.includes(cfg.default_policy)) {
    problems.push(`access_control: option 'default_policy' must be one of ${policyList} but it's configured as '${String(cfg.default_policy)}'`);
  } else if (cfg.rules.length === 0 && cfg.default_policy !== 'one_factor' && cfg.default_policy !== 'two_factor') {
    problems.push(`access_control: 'default_policy' option '${cfg.default_policy}' is invalid: when no rules are specified it must be 'two_factor' or 'one_factor'`);
  }

  const names = new Set<string>();
  cfg.networks.forEach((group, i) => {
    const where = `access_control: networks[${i}]`;
    if (!group.name) problems.push(`${where}: option 'name' is required`);
    else if (names.has(group.name)) problems.push(`${where}: network group '${group.name}' is defined more than once`);
    else names.add(group.name);
    if (group.networks.length === 0) problems.push(`${where}: network group '${group.name}' is invalid: option 'networks' must have at least one IP or CIDR`);
    for (const n of group.networks) {
      if (parseCidr(n) === null) {
        problems.push(`${where}: network group '${group.name}' is invalid: the network '${n}' is not a valid IP or CIDR notation`);
      }
    }
  });

  cfg.rules.forEach((rule, i) => {
    const where = `access_control: rules[${i}]`;
    const domains = rule.domain ?? [];
    const regexes = rule.domain_regex ?? [];

    if (domains.length + regexes.length === 0) {
      problems.push(`${where}: option 'domain' or 'domain_regex' must be present but are both absent`);
    }
    for (const d of domains) {
      if (d.trim() === '') problems.push(`${where}: option 'domain' must not contain an empty value`);
    }

    if ((rule.policy as unknown) === undefined || (rule.policy as unknown) === '') {
      problems.push(`${where}: option 'policy' must be present but it's absent`);
    } else if (!POLICIES.includes(rule.policy)) {
      problems.push(`${where}: option 'policy' must be one of ${policyList} but it's configured as '${String(rule.policy)}'`);
    }

    let regexHasIdentity = false;
    for (const pattern of regexes) {
      try {
        const re = compileGoRegex(pattern, true, true);
        const ids = identityGroups(re);
        if (ids.user || ids.group) regexHasIdentity = true;
      } catch (err) {
        problems.push(regexProblem(where, 'domain_regex', pattern, err));
      }
    }
    for (const pattern of rule.resources ?? []) {
      try {
        compileGoRegex(pattern, false, false);
      } catch (err) {
        problems.push(regexProblem(where, 'resources', pattern, err));
      }
    }

    const subjects = rule.subject ?? [];
    for (const entry of subjects) {
      const all = typeof entry === 'string' ? [entry] : entry;
      if (all.length === 0) problems.push(`${where}: option 'subject' must not contain an empty list`);
      for (const s of all) {
        if (parseSubject(s) === null) {
          problems.push(`${where}: 'subject' option '${s}' is invalid: must start with 'user:', 'group:', or 'oauth2:client:' followed by a name`);
        }
      }
    }

    const methods = rule.methods ?? [];
    const badMethods = methods.filter((m) => !ACL_METHODS.includes(m.toUpperCase()));
    if (badMethods.length !== 0) {
      problems.push(`${where}: option 'methods' must only have the values ${quoteList(ACL_METHODS, 'or')} but the values ${quoteList(badMethods, 'and')} are present`);
    }
    const seen = new Set<string>();
    const dupes = new Set<string>();
    for (const m of methods) (seen.has(m.toUpperCase()) ? dupes : seen).add(m.toUpperCase());
    if (dupes.size !== 0) {
      problems.push(`${where}: option 'methods' must have unique values but the values ${quoteList([...dupes], 'and')} are duplicated`);
    }

    for (const n of rule.networks ?? []) {
      if (!names.has(n) && parseCidr(n) === null) {
        problems.push(`${where}: the network '${n}' is not a valid Group Name, IP, or CIDR notation`);
      }
    }

    if (rule.query !== undefined) {
      // ignoring it would widen the rule; refusing it keeps the config's intent or stops the start
      problems.push(`${where}: option 'query' is not supported: express the condition with 'resources' (the regex sees the path and '?query')`);
    }

    if (rule.policy === 'bypass') {
      // an anonymous user matches subject criteria (to be sent to log in), so bypass would open them
      if (subjects.length !== 0) {
        problems.push(`${where}: 'policy' option 'bypass' is not supported when 'subject' option is configured: see https://www.authelia.com/c/acl#bypass`);
      }
      if (domains.some(identityDomain)) {
        problems.push(`${where}: 'policy' option 'bypass' is not supported when 'domain' option contains the '{user}' or '{group}' placeholders: see https://www.authelia.com/c/acl-match-concept-2`);
      }
      if (regexHasIdentity) {
        problems.push(`${where}: 'policy' option 'bypass' is not supported when 'domain_regex' option contains the user or group named matches. For more information see: https://www.authelia.com/c/acl-match-concept-2`);
      }
    }
  });

  return problems;
}

/** Things that load but probably do not do what the operator meant (logged at startup). */
export function accessControlWarnings(cfg: AccessControlConfig): string[] {
  const warnings: string[] = [];
  if (cfg.rules.length === 0) {
    warnings.push(`access_control: no rules have been specified so the 'default_policy' of '${cfg.default_policy}' is going to be applied to all requests`);
  }
  cfg.rules.forEach((rule, i) => {
    (rule.domain ?? []).forEach((d, j) => {
      if (d.length > 1 && d[0] === '*' && d[1] !== '.') {
        warnings.push(`access_control: rules[${i}]: domain[${j}]: domain '${d}' is ineffective and should probably be '*.${d.slice(1)}' instead`);
      }
    });
  });
  return warnings;
}

// ---------------------------------------------------------------------------------------------------
// Compilation

interface CompiledSubject { kind: 'user' | 'group' | 'client'; name: string }

interface CompiledRegex { re: RegExp; user: boolean; group: boolean }

interface CompiledRule {
  index: number;
  policy: Policy;
  hasSubjects: boolean;
  hasDomainCriteria: boolean;
  exact: Set<string> | null;
  /** `*.example.com` → `.example.com` */
  wildcard: string[];
  /** `{user}.example.com` → `.example.com` */
  userSuffix: string[];
  groupSuffix: string[];
  regexes: CompiledRegex[];
  resources: RegExp[] | null;
  methods: Set<string> | null;
  /** Precompiled; IPv4-mapped IPv6 clients match IPv4 networks (BlockList compares them as IPv4). */
  networks: ((ip: string) => boolean) | null;
  subjects: CompiledSubject[][] | null;
}

function asciiDomain(d: string): string {
  const lower = d.trim().toLowerCase();
  // IDN rules must meet the punycode host the browser sends
  return /^[\x00-\x7f]*$/.test(lower) ? lower : domainToASCII(lower) || lower;
}

function compileRule(rule: Rule, index: number, named: Map<string, string[]>): CompiledRule {
  const exact = new Set<string>();
  const wildcard: string[] = [];
  const userSuffix: string[] = [];
  const groupSuffix: string[] = [];
  for (const raw of rule.domain ?? []) {
    const d = raw.trim().toLowerCase();
    // suffixes keep their leading dot, so matching is a plain endsWith on a label boundary
    if (d.startsWith('*.')) wildcard.push('.' + asciiDomain(d.slice(2)));
    else if (d.startsWith('{user}.')) userSuffix.push('.' + asciiDomain(d.slice(7)));
    else if (d.startsWith('{group}.')) groupSuffix.push('.' + asciiDomain(d.slice(8)));
    else exact.add(asciiDomain(d));
  }
  const regexes = (rule.domain_regex ?? []).map((p): CompiledRegex => {
    const re = compileGoRegex(p, true, true);
    return { re, ...identityGroups(re) };
  });

  const networks = rule.networks !== undefined && rule.networks.length !== 0
    ? makeAddressMatcher(rule.networks.flatMap((n) => named.get(n) ?? [n]))
    : null;

  const subjects: CompiledSubject[][] = [];
  for (const entry of rule.subject ?? []) {
    const all = (typeof entry === 'string' ? [entry] : entry).map(parseSubject);
    if (all.length === 0) continue; // an empty AND would match everyone; validation reports it
    subjects.push(all.map((s) => {
      if (s === null) throw new ConfigError(['access_control: invalid subject']);
      return s;
    }));
  }

  const hasIdentityDomain = userSuffix.length + groupSuffix.length !== 0 || regexes.some((r) => r.user || r.group);
  return {
    index,
    policy: rule.policy,
    hasSubjects: subjects.length !== 0 || hasIdentityDomain,
    hasDomainCriteria: exact.size + wildcard.length + userSuffix.length + groupSuffix.length + regexes.length !== 0,
    exact: exact.size === 0 ? null : exact,
    wildcard,
    userSuffix,
    groupSuffix,
    regexes,
    resources: rule.resources !== undefined && rule.resources.length !== 0
      ? rule.resources.map((p) => compileGoRegex(p, false, false))
      : null,
    methods: rule.methods !== undefined && rule.methods.length !== 0
      ? new Set(rule.methods.map((m) => m.toUpperCase()))
      : null,
    networks,
    subjects: subjects.length === 0 ? null : subjects,
  };
}

// ---------------------------------------------------------------------------------------------------
// Evaluation

/** Per-request values derived lazily, so a rule set without such criteria pays nothing. */
interface Context {
  request: AccessRequest;
  subject: AccessSubject | null;
  anonymous: boolean;
  method: string | undefined;
  userLower: string | undefined;
  groupsLower: string[] | undefined;
}

function newContext(request: AccessRequest, subject: AccessSubject | null): Context {
  const anonymous = subject === null
    || (!subject.username && !subject.clientId && subject.groups.length === 0);
  return { request, subject, anonymous, method: undefined, userLower: undefined, groupsLower: undefined };
}

function userLower(ctx: Context): string {
  return (ctx.userLower ??= (ctx.subject?.username ?? '').toLowerCase());
}

function groupsLower(ctx: Context): string[] {
  return (ctx.groupsLower ??= (ctx.subject?.groups ?? []).map((g) => g.toLowerCase()));
}

function matchesDomain(rule: CompiledRule, ctx: Context): boolean {
  if (!rule.hasDomainCriteria) return true;
  const host = ctx.request.host;
  if (rule.exact !== null && rule.exact.has(host)) return true;
  for (const suffix of rule.wildcard) {
    // `*.example.com` is every subdomain, never the apex
    if (host.length > suffix.length && host.endsWith(suffix)) return true;
  }
  for (const suffix of rule.userSuffix) {
    if (host.length <= suffix.length || !host.endsWith(suffix)) continue;
    // anonymous: any user's host matches so the visitor is asked to log in first
    if (ctx.anonymous) return true;
    const user = userLower(ctx);
    if (user !== '' && host.length === user.length + suffix.length && host.startsWith(user)) return true;
  }
  for (const suffix of rule.groupSuffix) {
    if (host.length <= suffix.length || !host.endsWith(suffix)) continue;
    const label = host.slice(0, host.length - suffix.length);
    if (label.includes('.')) continue;
    if (ctx.anonymous || groupsLower(ctx).includes(label)) return true;
  }
  for (const r of rule.regexes) {
    if (!r.user && !r.group) {
      if (r.re.test(host)) return true;
      continue;
    }
    const m = r.re.exec(host);
    if (m === null) continue;
    if (ctx.anonymous) return true;
    const user = m.groups?.['User'];
    const group = m.groups?.['Group'];
    if (r.user && (user === undefined || user === '' || user.toLowerCase() !== userLower(ctx))) continue;
    if (r.group && (group === undefined || group === '' || !groupsLower(ctx).includes(group.toLowerCase()))) continue;
    return true;
  }
  return false;
}

function matchesResources(rule: CompiledRule, ctx: Context): boolean {
  if (rule.resources === null) return true;
  for (const re of rule.resources) if (re.test(ctx.request.path)) return true;
  return false;
}

function matchesMethods(rule: CompiledRule, ctx: Context): boolean {
  if (rule.methods === null) return true;
  ctx.method ??= ctx.request.method.toUpperCase();
  return rule.methods.has(ctx.method);
}

function matchesNetworks(rule: CompiledRule, ctx: Context): boolean {
  if (rule.networks === null) return true;
  return rule.networks(ctx.request.ip ?? '');
}

function matchesSubjectsExact(rule: CompiledRule, ctx: Context): boolean {
  if (rule.subjects === null) return true;
  const s = ctx.subject;
  if (ctx.anonymous || s === null) return false;
  // outer list: any entry; inner list: every criterion
  outer: for (const all of rule.subjects) {
    for (const c of all) {
      const ok = c.kind === 'user' ? s.username === c.name
        : c.kind === 'group' ? s.groups.includes(c.name)
          : s.clientId === c.name;
      if (!ok) continue outer;
    }
    return true;
  }
  return false;
}

function matchesSubjects(rule: CompiledRule, ctx: Context): SubjectMatch {
  if (matchesSubjectsExact(rule, ctx)) return 'hit';
  return ctx.anonymous && rule.subjects !== null ? 'may' : 'miss';
}

/** Compiles the section once; throws `ConfigError` listing every problem `validateAccessControl` finds. */
export function compileAccessControl(cfg: AccessControlConfig): Authorizer {
  const problems = validateAccessControl(cfg);
  if (problems.length !== 0) throw new ConfigError(problems);

  const named = new Map<string, string[]>(cfg.networks.map((g) => [g.name, g.networks]));
  const rules = cfg.rules.map((r, i) => compileRule(r, i, named));
  const defaultPolicy = cfg.default_policy;
  const defaultDecision: AccessDecision = Object.freeze({ policy: defaultPolicy, rule: -1, hasSubjects: false });
  const decisions: AccessDecision[] = rules.map((r) => Object.freeze({ policy: r.policy, rule: r.index, hasSubjects: r.hasSubjects }));

  return {
    defaultPolicy,
    evaluate(request, subject) {
      const ctx = newContext(request, subject);
      for (let i = 0; i < rules.length; i++) {
        const rule = rules[i]!;
        if (matchesDomain(rule, ctx)
          && matchesResources(rule, ctx)
          && matchesMethods(rule, ctx)
          && matchesNetworks(rule, ctx)
          && (ctx.anonymous || matchesSubjectsExact(rule, ctx))) {
          return decisions[i]!;
        }
      }
      return defaultDecision;
    },
    explain(request, subject) {
      const ctx = newContext(request, subject);
      return rules.map((rule) => {
        const check: RuleCheck = {
          rule: rule.index,
          policy: rule.policy,
          domain: matchesDomain(rule, ctx),
          resources: matchesResources(rule, ctx),
          methods: matchesMethods(rule, ctx),
          networks: matchesNetworks(rule, ctx),
          subjects: matchesSubjects(rule, ctx),
          matched: false,
        };
        check.matched = check.domain && check.resources && check.methods && check.networks && check.subjects !== 'miss';
        return check;
      });
    },
  };
}
