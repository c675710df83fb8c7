import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorsIn, renderProblem } from '../../../../lib/config-problems.ts';
import type { AccessControlConfig, Policy, Rule } from '../../../../gateway/authz/rules.ts';
import { accessControlProblems, accessControlWarnings } from '../../../../gateway/config/validate/access-control.ts';

/** The section's errors as the operator reads them. */
const errorLines = (cfg: AccessControlConfig) => errorsIn(accessControlProblems(cfg)).map(renderProblem);

function acl(rules: Rule[], extra: Partial<AccessControlConfig> = {}): AccessControlConfig {
  return { default_policy: 'deny', networks: [], rules, ...extra };
}

const ok: Rule = { domain: ['app.example.com'], policy: 'one_factor' };

describe('access_control validator: a sound section has no problems', () => {
  it('accepts every criterion used correctly', () => {
    assert.deepEqual(errorLines(acl([
      {
        domain: ['app.example.com', '*.example.com', '{user}.home.example.com'],
        domain_regex: ['^(?P<Group>\\w+)\\.team\\.example\\.com$'],
        resources: ['^/api/', '(?i)^/admin\\z'],
        subject: ['user:alice', ['group:admins', 'oauth2:client:bot']],
        methods: ['GET', 'propfind'],
        networks: ['internal', '10.0.0.0/8', '2001:db8::/32', '192.0.2.1'],
        policy: 'two_factor',
      },
    ], { networks: [{ name: 'internal', networks: ['192.168.0.0/16', 'fd00::/8'] }] })), []);
  });
});

describe('access_control validator: default_policy', () => {
  it('deny with no rules is refused, as Authelia does', () => {
    assert.deepEqual(errorLines(acl([])), [
      "config: access_control: 'default_policy' option 'deny' is invalid: when no rules are specified it must be 'two_factor' or 'one_factor'",
    ]);
  });
  it('bypass with no rules is refused', () => {
    assert.deepEqual(errorLines(acl([], { default_policy: 'bypass' })), [
      "config: access_control: 'default_policy' option 'bypass' is invalid: when no rules are specified it must be 'two_factor' or 'one_factor'",
    ]);
  });
  it('two_factor with no rules is accepted, with a warning', () => {
    const cfg = acl([], { default_policy: 'two_factor' });
    assert.deepEqual(errorLines(cfg), []);
    assert.deepEqual(accessControlWarnings(cfg).map(renderProblem), [
      "config: access_control: no rules have been specified so the 'default_policy' of 'two_factor' is going to be applied to all requests",
    ]);
  });
  it('an unknown policy names the allowed ones', () => {
    assert.deepEqual(errorLines(acl([ok], { default_policy: 'allow' as Policy })), [
      "config: access_control.default_policy: must be one of 'bypass', 'one_factor', 'two_factor' or 'deny' but it's configured as 'allow'",
    ]);
  });
});

describe('access_control validator: each rule problem names the rule and option', () => {
  const table: [string, Rule, string[]][] = [
    ['no domain or domain_regex', { resources: ['^/'], policy: 'one_factor' }, [
      "config: access_control.rules[0]: option 'domain' or 'domain_regex' must be present but are both absent",
    ]],
    ['missing policy', { domain: ['a.example.com'] } as Rule, [
      "config: access_control.rules[0].policy: must be present but it's absent",
    ]],
    ['unknown policy', { domain: ['a.example.com'], policy: 'allow' as Policy }, [
      "config: access_control.rules[0].policy: must be one of 'bypass', 'one_factor', 'two_factor' or 'deny' but it's configured as 'allow'",
    ]],
    ['bad domain_regex', { domain_regex: ['('], policy: 'one_factor' }, [
      "config: access_control.rules[0].domain_regex: value '(' is not a valid regular expression: Unterminated group",
    ]],
    ['bad resources regex', { domain: ['a.example.com'], resources: ['^/api/[a-'], policy: 'one_factor' }, [
      "config: access_control.rules[0].resources: value '^/api/[a-' is not a valid regular expression: Unterminated character class",
    ]],
    ['backreference in resources (not RE2, not linear)', { domain: ['a.example.com'], resources: ['^/(\\w+)/\\1$'], policy: 'one_factor' }, [
      "config: access_control.rules[0].resources: value '^/(\\w+)/\\1$' uses a construct that cannot run in linear time (backreferences or lookaround); RE2 syntax as in Authelia",
    ]],
    ['lookahead in domain_regex', { domain_regex: ['(?!admin)\\w+\\.example\\.com'], policy: 'one_factor' }, [
      "config: access_control.rules[0].domain_regex: value '(?!admin)\\w+\\.example\\.com' uses a construct that cannot run in linear time (backreferences or lookaround); RE2 syntax as in Authelia",
    ]],
    ['nested repetition the linear engine cannot run', { domain: ['a.example.com'], resources: ['^/(\\p{L}+/)*$'], policy: 'one_factor' }, [
      "config: access_control.rules[0].resources: value '^/(\\p{L}+/)*$' could backtrack for a very long time on a crafted request (it repeats a group holding a quantifier or '|', or has several unbounded quantifiers, or one without a leading '^'), and the linear-time engine Gatehouse runs such patterns on does not support Unicode property escapes (\\p{…}): simplify the pattern",
    ]],
    ['unknown subject prefix', { domain: ['a.example.com'], subject: ['admins'], policy: 'one_factor' }, [
      "config: access_control.rules[0].subject: 'admins' is invalid: must start with 'user:', 'group:', or 'oauth2:client:' followed by a name",
    ]],
    ['subject prefix without a name', { domain: ['a.example.com'], subject: [['group:admins', 'user: ']], policy: 'one_factor' }, [
      "config: access_control.rules[0].subject: 'user: ' is invalid: must start with 'user:', 'group:', or 'oauth2:client:' followed by a name",
    ]],
    ['empty subject list (would match everyone)', { domain: ['a.example.com'], subject: [[]], policy: 'one_factor' }, [
      "config: access_control.rules[0].subject: must not contain an empty list",
    ]],
    ['unknown method', { domain: ['a.example.com'], methods: ['GET', 'FETCH'], policy: 'one_factor' }, [
      "config: access_control.rules[0].methods: must only have the values 'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'CONNECT', 'OPTIONS', 'COPY', 'LOCK', 'MKCOL', 'MOVE', 'PROPFIND', 'PROPPATCH' or 'UNLOCK' but the values 'FETCH' are present",
    ]],
    ['duplicate method', { domain: ['a.example.com'], methods: ['GET', 'get'], policy: 'one_factor' }, [
      "config: access_control.rules[0].methods: must have unique values but the values 'GET' are duplicated",
    ]],
    ['bad CIDR', { domain: ['a.example.com'], networks: ['10.0.0.0/33'], policy: 'one_factor' }, [
      "config: access_control.rules[0].networks: the network '10.0.0.0/33' is not a valid Group Name, IP, or CIDR notation",
    ]],
    ['unknown named network', { domain: ['a.example.com'], networks: ['office'], policy: 'one_factor' }, [
      "config: access_control.rules[0].networks: the network 'office' is not a valid Group Name, IP, or CIDR notation",
    ]],
    ['bypass with subject', { domain: ['a.example.com'], subject: ['group:admins'], policy: 'bypass' }, [
      "config: access_control.rules[0].policy: 'bypass' is not supported when 'subject' option is configured: see https://www.authelia.com/c/acl#bypass",
    ]],
    ['bypass with a {user} domain', { domain: ['{user}.example.com'], policy: 'bypass' }, [
      "config: access_control.rules[0].policy: 'bypass' is not supported when 'domain' option contains the '{user}' or '{group}' placeholders: see https://www.authelia.com/c/acl-match-concept-2",
    ]],
    ['bypass with a User regex group', { domain_regex: ['(?P<User>\\w+)\\.example\\.com'], policy: 'bypass' }, [
      "config: access_control.rules[0].policy: 'bypass' is not supported when 'domain_regex' option contains the user or group named matches. For more information see: https://www.authelia.com/c/acl-match-concept-2",
    ]],
    ['query: unknown operator', { domain: ['a.example.com'], query: [[{ key: 'x', value: '1', operator: 'equals' }]], policy: 'one_factor' }, [
      "config: access_control.rules[0].query[0][0].operator: must be one of 'present', 'absent', 'equal', 'not equal', 'pattern' or 'not pattern' but it's configured as 'equals'",
    ]],
    ['query: missing key', { domain: ['a.example.com'], query: [[{ key: 'a' }], [{ value: '1', operator: 'equal' }]], policy: 'one_factor' }, [
      "config: access_control.rules[0].query[1][0].key: is required but it's absent",
    ]],
    ['query: missing value', { domain: ['a.example.com'], query: [[{ key: 'a', operator: 'not pattern' }]], policy: 'one_factor' }, [
      "config: access_control.rules[0].query[0][0].value: must be present when the option 'operator' is 'not pattern' but it's absent",
    ]],
    ['query: a value with present', { domain: ['a.example.com'], query: [[{ key: 'a', value: 'x', operator: 'present' }]], policy: 'one_factor' }, [
      "config: access_control.rules[0].query[0][0].value: must not be present when the option 'operator' is 'present' but it's present",
    ]],
    ['query: a value that is not a string', { domain: ['a.example.com'], query: [[{ key: 'a', value: 5, operator: 'equal' }]], policy: 'one_factor' }, [
      "config: access_control.rules[0].query[0][0].value: is invalid: expected type was string but got number",
    ]],
    ['query: a bad pattern', { domain: ['a.example.com'], query: [[{ key: 'a', value: '(x', operator: 'pattern' }]], policy: 'one_factor' }, [
      "config: access_control.rules[0].query[0][0].value: value '(x' is not a valid regular expression: Unterminated group",
    ]],
  ];
  for (const [name, rule, expected] of table) {
    it(name, () => assert.deepEqual(errorLines(acl([rule])), expected));
  }

  it('counts rules from 0, as the config path does', () => {
    const problems = errorLines(acl([ok, ok, { domain_regex: ['('], policy: 'one_factor' }]));
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^config: access_control\.rules\[2\]\.domain_regex: value '\(' is not a valid regular expression: /);
  });

  it('lists every problem at once', () => {
    const problems = errorLines(acl([
      { policy: 'allow' as Policy, methods: ['FETCH'], networks: ['nowhere'] },
    ]));
    assert.equal(problems.length, 4);
  });
});

describe('access_control validator: named networks', () => {
  it('reports a bad entry with the group name', () => {
    assert.deepEqual(errorLines(acl([ok], { networks: [{ name: 'internal', networks: ['abc.def.ghi.jkl'] }] })), [
      "config: access_control.networks[0].networks: network group 'internal' is invalid: the network 'abc.def.ghi.jkl' is not a valid IP or CIDR notation",
    ]);
  });
  it('reports a duplicate name', () => {
    const n = { name: 'lan', networks: ['10.0.0.0/8'] };
    assert.deepEqual(errorLines(acl([ok], { networks: [n, n] })), [
      "config: access_control.networks[1].name: network group 'lan' is defined more than once",
    ]);
  });
});

describe('access_control validator: problems as data', () => {
  it("each error at the option it names; default_policy 'bypass' a warning there", () => {
    assert.deepEqual(accessControlProblems(acl([ok, { domain: ['b.example.com'], methods: ['FETCH'], policy: 'one_factor' }], { default_policy: 'bypass' })).map(({ path, severity }) => ({ path, severity })), [
      { path: 'access_control.rules[1].methods', severity: 'error' },
      { path: 'access_control.default_policy', severity: 'warning' },
    ]);
  });
});

describe('accessControlWarnings', () => {
  it('flags a wildcard without a dot, as Authelia does', () => {
    assert.deepEqual(accessControlWarnings(acl([{ domain: ['*example.com'], policy: 'one_factor' }])).map(renderProblem), [
      "config: access_control.rules[0].domain[0]: domain '*example.com' is ineffective and should probably be '*.example.com' instead",
    ]);
  });
});
