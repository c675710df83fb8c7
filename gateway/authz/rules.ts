/**
 * Access control: Authelia's `access_control` rules, compiled once and evaluated on every forward-auth
 * request. First matching rule wins, else `default_policy`.
 */
import { domainToASCII } from 'node:url';
import { errorsIn } from '../../lib/config-problems.ts';
import { ConfigError } from '../../lib/errors.ts';
import { makeAddressMatcher } from '../../lib/net/address.ts';
import { resolveNetworks, type NamedNetworks } from '../config/definitions.ts';
import { accessControlProblems } from '../config/validate/access-control.ts';
import { compileQueryCriterion, queryOf, type QueryValues } from './query-criterion.ts';
import { compileGoRegex, identityGroups, parseSubject, type AccessControlConfig, type Policy, type Rule } from './rule-syntax.ts';

export { ACL_METHODS, compileGoRegex, POLICIES } from './rule-syntax.ts';
export type { AccessControlConfig, Policy, Rule } from './rule-syntax.ts';

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
  query: boolean;
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
  query: ((query: QueryValues) => boolean) | null;
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

function compileRule(rule: Rule, index: number, named: NamedNetworks): CompiledRule {
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
    ? makeAddressMatcher(resolveNetworks(rule.networks, named))
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
    query: compileQueryCriterion(rule.query),
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
  query: QueryValues | undefined;
  userLower: string | undefined;
  groupsLower: string[] | undefined;
}

function newContext(request: AccessRequest, subject: AccessSubject | null): Context {
  const anonymous = subject === null
    || (!subject.username && !subject.clientId && subject.groups.length === 0);
  return { request, subject, anonymous, method: undefined, query: undefined, userLower: undefined, groupsLower: undefined };
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

function matchesQuery(rule: CompiledRule, ctx: Context): boolean {
  if (rule.query === null) return true;
  return rule.query(ctx.query ??= queryOf(ctx.request.path));
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

/**
 * Compiles the section once; throws `ConfigError` listing every error its validator finds. `defined`:
 * the network names of `definitions.network` (config/definitions.ts), which rules may name too.
 */
export function compileAccessControl(cfg: AccessControlConfig, defined: NamedNetworks = new Map()): Authorizer {
  const problems = errorsIn(accessControlProblems(cfg, defined.keys()));
  if (problems.length !== 0) throw new ConfigError(problems);

  const named = new Map<string, readonly string[]>([...defined, ...cfg.networks.map((g): [string, readonly string[]] => [g.name, g.networks])]);
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
          && matchesQuery(rule, ctx)
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
          query: matchesQuery(rule, ctx),
          methods: matchesMethods(rule, ctx),
          networks: matchesNetworks(rule, ctx),
          subjects: matchesSubjects(rule, ctx),
          matched: false,
        };
        check.matched = check.domain && check.resources && check.query && check.methods && check.networks && check.subjects !== 'miss';
        return check;
      });
    },
  };
}
