/**
 * `access_control`: every rule as the compiler (authz/rules.ts) will read it, in Authelia's words
 * wherever Authelia has some. A rule that cannot be compiled, or that would open more than it says,
 * is an error here, so it stops the start instead of surprising at request time.
 */
import { configError, configWarning, type ConfigProblem } from '../../../lib/config-problems.ts';
import { parseCidr } from '../../../lib/net/address.ts';
import { NotLinearRegexError } from '../../authz/linear-regex.ts';
import { effectiveOperator, QUERY_OPERATORS } from '../../authz/query-criterion.ts';
import { ACL_METHODS, compileGoRegex, identityGroups, parseSubject, POLICIES, type AccessControlConfig, type QueryCondition, type Rule } from '../../authz/rule-syntax.ts';

function quoteList(values: readonly string[], last: 'or' | 'and'): string {
  const q = values.map((v) => `'${v}'`);
  return q.length <= 1 ? (q[0] ?? '') : `${q.slice(0, -1).join(', ')} ${last} ${q[q.length - 1]}`;
}

const POLICY_LIST = quoteList(POLICIES, 'or');

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
function regexProblem(where: string, pattern: string, err: unknown): ConfigProblem {
  const head = `value '${pattern}'`;
  if (err instanceof NotLinearRegexError) {
    return configError(where, err.reason === 'backreference_or_lookaround'
      ? `${head} uses a construct that cannot run in linear time (backreferences or lookaround); RE2 syntax as in Authelia`
      : `${head} could backtrack for a very long time on a crafted request (it repeats a group holding a quantifier or '|', or has several unbounded quantifiers, or one without a leading '^'), and the linear-time engine Gatehouse runs such patterns on does not support ${err.message}: simplify the pattern`);
  }
  return configError(where, `${head} is not a valid regular expression: ${regexErrorReason(err)}`);
}

const OPERATOR_LIST = quoteList(QUERY_OPERATORS, 'or');

/** One `{key, value, operator}` of a rule's `query`, checked as Authelia checks it (validator/access_control.go). */
function queryConditionProblems(c: QueryCondition, where: string): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  const key = c.key ?? '';
  if (key === '') found.push(configError(`${where}.key`, "is required but it's absent"));
  const operatorGiven = c.operator !== undefined && c.operator !== '';
  if (!operatorGiven && key === '') return found; // Authelia infers no operator without a key
  const op = effectiveOperator(c);
  if (op === null) {
    found.push(configError(`${where}.operator`, `must be one of ${OPERATOR_LIST} but it's configured as '${String(c.operator)}'`));
    return found;
  }
  const value = c.value;
  if (value === undefined || value === null) {
    if (op !== 'present' && op !== 'absent') found.push(configError(`${where}.value`, `must be present when the option 'operator' is '${op}' but it's absent`));
  } else if (typeof value !== 'string') {
    found.push(configError(`${where}.value`, `is invalid: expected type was string but got ${Array.isArray(value) ? 'a list' : typeof value}`));
  } else if (op === 'present' || op === 'absent') {
    if (value !== '') found.push(configError(`${where}.value`, `must not be present when the option 'operator' is '${op}' but it's present`));
  } else if (op === 'pattern' || op === 'not pattern') {
    try {
      compileGoRegex(value, false, false);
    } catch (err) {
      found.push(regexProblem(`${where}.value`, value, err));
    }
  }
  return found;
}

function networkGroupProblems(cfg: AccessControlConfig, names: Set<string>): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  cfg.networks.forEach((group, i) => {
    const where = `access_control.networks[${i}]`;
    if (!group.name) found.push(configError(`${where}.name`, 'is required'));
    else if (names.has(group.name)) found.push(configError(`${where}.name`, `network group '${group.name}' is defined more than once`));
    else names.add(group.name);
    if (group.networks.length === 0) found.push(configError(`${where}.networks`, `network group '${group.name}' is invalid: it must have at least one IP or CIDR`));
    for (const n of group.networks) {
      if (parseCidr(n) === null) found.push(configError(`${where}.networks`, `network group '${group.name}' is invalid: the network '${n}' is not a valid IP or CIDR notation`));
    }
  });
  return found;
}

function ruleProblems(rule: Rule, where: string, networkNames: ReadonlySet<string>): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  const domains = rule.domain ?? [];
  const regexes = rule.domain_regex ?? [];

  if (domains.length + regexes.length === 0) found.push(configError(where, "option 'domain' or 'domain_regex' must be present but are both absent"));
  for (const d of domains) {
    if (d.trim() === '') found.push(configError(`${where}.domain`, 'must not contain an empty value'));
  }

  if ((rule.policy as unknown) === undefined || (rule.policy as unknown) === '') {
    found.push(configError(`${where}.policy`, "must be present but it's absent"));
  } else if (!POLICIES.includes(rule.policy)) {
    found.push(configError(`${where}.policy`, `must be one of ${POLICY_LIST} but it's configured as '${String(rule.policy)}'`));
  }

  let regexHasIdentity = false;
  for (const pattern of regexes) {
    try {
      const ids = identityGroups(compileGoRegex(pattern, true, true));
      if (ids.user || ids.group) regexHasIdentity = true;
    } catch (err) {
      found.push(regexProblem(`${where}.domain_regex`, pattern, err));
    }
  }
  for (const pattern of rule.resources ?? []) {
    try {
      compileGoRegex(pattern, false, false);
    } catch (err) {
      found.push(regexProblem(`${where}.resources`, pattern, err));
    }
  }

  const subjects = rule.subject ?? [];
  for (const entry of subjects) {
    const all = typeof entry === 'string' ? [entry] : entry;
    // an empty AND would match everyone
    if (all.length === 0) found.push(configError(`${where}.subject`, 'must not contain an empty list'));
    for (const s of all) {
      if (parseSubject(s) === null) {
        found.push(configError(`${where}.subject`, `'${s}' is invalid: must start with 'user:', 'group:', or 'oauth2:client:' followed by a name`));
      }
    }
  }

  const methods = rule.methods ?? [];
  const badMethods = methods.filter((m) => !ACL_METHODS.includes(m.toUpperCase()));
  if (badMethods.length !== 0) {
    found.push(configError(`${where}.methods`, `must only have the values ${quoteList(ACL_METHODS, 'or')} but the values ${quoteList(badMethods, 'and')} are present`));
  }
  const seen = new Set<string>();
  const dupes = new Set<string>();
  for (const m of methods) (seen.has(m.toUpperCase()) ? dupes : seen).add(m.toUpperCase());
  if (dupes.size !== 0) found.push(configError(`${where}.methods`, `must have unique values but the values ${quoteList([...dupes], 'and')} are duplicated`));

  for (const n of rule.networks ?? []) {
    if (!networkNames.has(n) && parseCidr(n) === null) found.push(configError(`${where}.networks`, `the network '${n}' is not a valid Group Name, IP, or CIDR notation`));
  }

  (rule.query ?? []).forEach((all, j) => all.forEach((c, k) => found.push(...queryConditionProblems(c, `${where}.query[${j}][${k}]`))));

  if (rule.policy === 'bypass') {
    // an anonymous user matches subject criteria (to be sent to log in), so bypass would open them
    if (subjects.length !== 0) {
      found.push(configError(`${where}.policy`, "'bypass' is not supported when 'subject' option is configured: see https://www.authelia.com/c/acl#bypass"));
    }
    if (domains.some(identityDomain)) {
      found.push(configError(`${where}.policy`, "'bypass' is not supported when 'domain' option contains the '{user}' or '{group}' placeholders: see https://www.authelia.com/c/acl-match-concept-2"));
    }
    if (regexHasIdentity) {
      found.push(configError(`${where}.policy`, "'bypass' is not supported when 'domain_regex' option contains the user or group named matches. For more information see: https://www.authelia.com/c/acl-match-concept-2"));
    }
  }
  return found;
}

/** Every problem in the section, each at the option it names (`access_control.rules[0].methods`). */
/** `defined`: the network names `definitions.network` gives, which rules may name as well as the groups. */
export function accessControlProblems(cfg: AccessControlConfig, defined: Iterable<string> = []): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  if (!POLICIES.includes(cfg.default_policy)) {
    found.push(configError('access_control.default_policy', `must be one of ${POLICY_LIST} but it's configured as '${String(cfg.default_policy)}'`));
  } else if (cfg.rules.length === 0 && cfg.default_policy !== 'one_factor' && cfg.default_policy !== 'two_factor') {
    // at the section, not the option: adding a rule mends it as well as changing default_policy does
    found.push(configError('access_control', `'default_policy' option '${cfg.default_policy}' is invalid: when no rules are specified it must be 'two_factor' or 'one_factor'`));
  }
  const networkNames = new Set<string>();
  found.push(...networkGroupProblems(cfg, networkNames));
  for (const name of defined) networkNames.add(name);
  cfg.rules.forEach((rule, i) => found.push(...ruleProblems(rule, `access_control.rules[${i}]`, networkNames)));
  if (cfg.default_policy === 'bypass') {
    found.push(configWarning('access_control.default_policy', "is 'bypass': every host no rule matches is open to anyone"));
  }
  return found;
}

/**
 * Things that load but probably do not do what the operator meant, as Authelia words them. Not said at
 * load time: a one_factor default with no rules is a sound minimal configuration.
 */
export function accessControlWarnings(cfg: AccessControlConfig): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  if (cfg.rules.length === 0) {
    found.push(configWarning('access_control', `no rules have been specified so the 'default_policy' of '${cfg.default_policy}' is going to be applied to all requests`));
  }
  cfg.rules.forEach((rule, i) => {
    (rule.domain ?? []).forEach((d, j) => {
      if (d.length > 1 && d[0] === '*' && d[1] !== '.') {
        found.push(configWarning(`access_control.rules[${i}].domain[${j}]`, `domain '${d}' is ineffective and should probably be '*.${d.slice(1)}' instead`));
      }
    });
  });
  return found;
}
