import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../lib/errors.ts';
import {
  compileAccessControl,
  isSecondFactorRequiredAnywhere,
  requiredLevel,
  type AccessControlConfig,
  type AccessRequest,
  type AccessSubject,
  type Policy,
  type Rule,
} from '../../../gateway/authz/rules.ts';
import { compileGoRegex } from '../../../gateway/authz/rules.ts';
import { enableLinearEngine, linearSource, runsInLinearTime } from '../../../gateway/authz/linear-regex.ts';

// as bin/gatehouse.ts does at startup
enableLinearEngine();

const alice: AccessSubject = { username: 'alice', groups: ['admins', 'dev'] };
const bob: AccessSubject = { username: 'bob', groups: ['dev'] };
const carol: AccessSubject = { username: 'carol', groups: [] };

function acl(rules: Rule[], extra: Partial<AccessControlConfig> = {}): AccessControlConfig {
  return { default_policy: 'deny', networks: [], rules, ...extra };
}

function req(url: string, method = 'GET', ip = '203.0.113.9'): AccessRequest {
  const u = new URL(url);
  return { host: u.hostname, path: u.pathname + u.search, method, ip };
}

interface Case {
  name: string;
  url: string;
  subject: AccessSubject | null;
  method?: string;
  ip?: string;
  policy: Policy;
  rule: number;
}

function cases(cfg: AccessControlConfig, list: Case[]): void {
  const authorizer = compileAccessControl(cfg);
  for (const c of list) {
    it(c.name, () => {
      const d = authorizer.evaluate(req(c.url, c.method, c.ip), c.subject);
      assert.deepEqual({ policy: d.policy, rule: d.rule }, { policy: c.policy, rule: c.rule });
    });
  }
}

describe('first matching rule wins, else default_policy', () => {
  cases(acl([
    { domain: ['app.example.com'], resources: ['^/public'], policy: 'bypass' },
    { domain: ['app.example.com'], policy: 'one_factor' },
    { domain: ['app.example.com'], policy: 'two_factor' },
  ]), [
    { name: 'earlier rule wins over a later broader one', url: 'https://app.example.com/public/x', subject: null, policy: 'bypass', rule: 0 },
    { name: 'next rule when the first misses', url: 'https://app.example.com/private', subject: alice, policy: 'one_factor', rule: 1 },
    { name: 'no rule: default_policy, rule -1', url: 'https://other.example.com/', subject: alice, policy: 'deny', rule: -1 },
  ]);
});

describe('domain: exact, wildcard and case', () => {
  cases(acl([
    { domain: ['App.Example.com'], policy: 'one_factor' },
    { domain: ['*.example.com'], policy: 'two_factor' },
    { domain: ['example.com'], policy: 'bypass' },
  ]), [
    { name: 'exact match, pattern lower-cased at compile', url: 'https://app.example.com/', subject: alice, policy: 'one_factor', rule: 0 },
    { name: 'wildcard matches a subdomain', url: 'https://wiki.example.com/', subject: alice, policy: 'two_factor', rule: 1 },
    { name: 'wildcard matches a deeper subdomain', url: 'https://a.b.example.com/', subject: alice, policy: 'two_factor', rule: 1 },
    { name: 'wildcard does not match the apex', url: 'https://example.com/', subject: alice, policy: 'bypass', rule: 2 },
    { name: 'a suffix look-alike is not a subdomain', url: 'https://evilexample.com/', subject: alice, policy: 'deny', rule: -1 },
    { name: 'the domain as a label of another domain is not a match', url: 'https://example.com.evil.net/', subject: alice, policy: 'deny', rule: -1 },
  ]);
});

describe('domain: internationalised names match the punycode host browsers send', () => {
  cases(acl([
    { domain: ['bücher.example.com'], policy: 'one_factor' },
    { domain: ['*.bücher.de'], policy: 'two_factor' },
  ]), [
    { name: 'exact IDN', url: 'https://bücher.example.com/', subject: alice, policy: 'one_factor', rule: 0 },
    { name: 'wildcard IDN', url: 'https://shop.bücher.de/', subject: alice, policy: 'two_factor', rule: 1 },
  ]);
});

describe('domain: {user} and {group} placeholders', () => {
  const cfg = acl([
    { domain: ['{user}.home.example.com'], policy: 'one_factor' },
    { domain: ['{group}.team.example.com'], policy: 'two_factor' },
  ]);
  cases(cfg, [
    { name: '{user} matches the user\'s own host', url: 'https://alice.home.example.com/', subject: alice, policy: 'one_factor', rule: 0 },
    { name: '{user} compares case-insensitively', url: 'https://alice.home.example.com/', subject: { username: 'Alice', groups: [] }, policy: 'one_factor', rule: 0 },
    { name: '{user} does not match another user\'s host', url: 'https://alice.home.example.com/', subject: bob, policy: 'deny', rule: -1 },
    { name: '{group} matches a member', url: 'https://dev.team.example.com/', subject: bob, policy: 'two_factor', rule: 1 },
    { name: '{group} does not match a non-member', url: 'https://admins.team.example.com/', subject: bob, policy: 'deny', rule: -1 },
    { name: '{group} is one label only', url: 'https://x.dev.team.example.com/', subject: bob, policy: 'deny', rule: -1 },
    { name: 'anonymous matches {user} (and must log in)', url: 'https://alice.home.example.com/', subject: null, policy: 'one_factor', rule: 0 },
    { name: 'anonymous matches {group} (and must log in)', url: 'https://admins.team.example.com/', subject: null, policy: 'two_factor', rule: 1 },
  ]);
  it('reports such rules as subject-bearing', () => {
    const d = compileAccessControl(cfg).evaluate(req('https://alice.home.example.com/'), null);
    assert.equal(d.hasSubjects, true);
  });
});

describe('domain_regex: anchored, case-insensitive, User/Group named groups', () => {
  const cfg = acl([
    { domain_regex: ['^user-(?P<User>\\w+)\\.example\\.com$'], policy: 'one_factor' },
    { domain_regex: ['(?<Group>\\w+)-team\\.example\\.com'], policy: 'two_factor' },
    { domain_regex: ['api\\.example\\.com'], policy: 'bypass' },
  ]);
  cases(cfg, [
    { name: 'Go (?P<User>) syntax is accepted and matches the user', url: 'https://user-alice.example.com/', subject: alice, policy: 'one_factor', rule: 0 },
    { name: 'User group compares case-insensitively', url: 'https://USER-ALICE.example.com/', subject: alice, policy: 'one_factor', rule: 0 },
    { name: 'User group rejects another user', url: 'https://user-alice.example.com/', subject: bob, policy: 'deny', rule: -1 },
    { name: 'Group group matches a member', url: 'https://admins-team.example.com/', subject: alice, policy: 'two_factor', rule: 1 },
    { name: 'Group group rejects a non-member', url: 'https://admins-team.example.com/', subject: bob, policy: 'deny', rule: -1 },
    { name: 'anonymous matches a named-group regex (and must log in)', url: 'https://user-bob.example.com/', subject: null, policy: 'one_factor', rule: 0 },
    { name: 'plain regex matches', url: 'https://api.example.com/', subject: null, policy: 'bypass', rule: 2 },
    { name: 'regexes are anchored: no match inside a longer host', url: 'https://api.example.com.evil.net/', subject: null, policy: 'deny', rule: -1 },
    { name: 'regexes are anchored: no match with a prefix', url: 'https://xapi.example.com/', subject: null, policy: 'deny', rule: -1 },
  ]);
  it('a rule matches when any domain or domain_regex entry matches', () => {
    const a = compileAccessControl(acl([{ domain: ['a.example.com'], domain_regex: ['b\\.example\\.com'], policy: 'one_factor' }]));
    assert.equal(a.evaluate(req('https://a.example.com/'), alice).rule, 0);
    assert.equal(a.evaluate(req('https://b.example.com/'), alice).rule, 0);
    assert.equal(a.evaluate(req('https://c.example.com/'), alice).rule, -1);
  });
});

describe('resources: regexes over the normalised path plus ?query', () => {
  cases(acl([
    { domain: ['app.example.com'], resources: ['^/api/', '^/health$'], policy: 'bypass' },
    { domain: ['app.example.com'], resources: ['[?&]debug=1'], policy: 'deny' },
    { domain: ['app.example.com'], resources: ['(?i)^/ADMIN'], policy: 'two_factor' },
    { domain: ['app.example.com'], policy: 'one_factor' },
  ]), [
    { name: 'any listed resource matches', url: 'https://app.example.com/health', subject: null, policy: 'bypass', rule: 0 },
    { name: 'resources are unanchored unless the pattern says so', url: 'https://app.example.com/api/v1', subject: null, policy: 'bypass', rule: 0 },
    { name: 'the query is part of what resources see', url: 'https://app.example.com/page?x=1&debug=1', subject: alice, policy: 'deny', rule: 1 },
    { name: 'a leading Go (?i) makes the pattern case-insensitive', url: 'https://app.example.com/admin/users', subject: alice, policy: 'two_factor', rule: 2 },
    { name: 'a non-matching path falls through', url: 'https://app.example.com/home', subject: alice, policy: 'one_factor', rule: 3 },
  ]);
});

describe('regexes cannot stall the event loop (RE2 is linear in Authelia; V8 backtracks)', () => {
  // a guard against catastrophic behaviour, not a benchmark: exponential patterns took minutes here
  const LIMIT_MS = 50;
  function timed(run: () => void): number {
    const started = performance.now();
    run();
    return performance.now() - started;
  }

  const pathological: [string, string][] = [
    ['^/api/(\\w+/?)*$', `/api/${'a'.repeat(9_994)}!`], // exponential when backtracking
    ['(?i)^/(?:a|aa)+$', `/${'a'.repeat(9_998)}!`],
    ['/x.*y.*z', '/x'.repeat(5_000)], // polynomial: n³ when backtracking
    ['.*\\.json$', 'x'.repeat(10_000)],
  ];
  for (const [pattern, path] of pathological) {
    it(`resources '${pattern}' on a ${path.length}-character path returns in under ${LIMIT_MS} ms`, () => {
      const a = compileAccessControl(acl([
        { domain: ['app.example.com'], resources: [pattern], policy: 'bypass' },
        { domain: ['app.example.com'], policy: 'one_factor' },
      ]));
      for (const subject of [null, alice]) {
        let decision: { rule: number } | undefined;
        const ms = timed(() => (decision = a.evaluate({ host: 'app.example.com', path, method: 'GET' }, subject)));
        assert.ok(ms < LIMIT_MS, `held the event loop for ${Math.round(ms)} ms`);
        assert.equal(decision?.rule, 1);
      }
    });
  }

  it('a domain_regex with nested repetition on a 10 000-character host returns in time', () => {
    const a = compileAccessControl(acl([{ domain_regex: ['^(?P<User>[a-z]+-?)+\\.example\\.com$'], policy: 'one_factor' }]));
    const host = `${'a'.repeat(10_000)}!`;
    const ms = timed(() => assert.equal(a.evaluate({ host, path: '/', method: 'GET' }, alice).rule, -1));
    assert.ok(ms < LIMIT_MS, `held the event loop for ${Math.round(ms)} ms`);
  });

  it('such patterns still match what they matched before, named groups and (?i) included', () => {
    const a = compileAccessControl(acl([
      { domain_regex: ['^(?P<User>(?:[a-z]+-?)+)\\.Home\\.example\\.com$'], policy: 'one_factor' },
      { domain: ['app.example.com'], resources: ['^/api/(\\w+/?)*$', '(?i)^/Docs(/[A-Z]+)*$'], policy: 'bypass' },
    ]));
    assert.equal(a.evaluate(req('https://ali-ce.home.example.com/'), { username: 'Ali-Ce', groups: [] }).rule, 0);
    assert.equal(a.evaluate(req('https://ali-ce.home.example.com/'), alice).rule, -1, 'the User group is still compared');
    assert.equal(a.evaluate(req('https://app.example.com/api/v1/users/'), null).rule, 1);
    assert.equal(a.evaluate(req('https://app.example.com/docs/intro/Setup'), null).rule, 1);
    assert.equal(a.evaluate(req('https://app.example.com/docs/intro-2'), alice).rule, -1);
  });

  it('simple patterns stay on the faster backtracking engine; risky ones run in linear time', () => {
    for (const simple of ['^/api/', '^/api/.*$', '\\.(?:js|css)$', '^/admin(?:/.*)?$', '^/v[0-9]+/health$']) {
      assert.equal(runsInLinearTime(compileGoRegex(simple, false, false)), false, simple);
    }
    assert.equal(runsInLinearTime(compileGoRegex('^(?P<User>\\w+)\\.example\\.com$', true, true)), false);
    for (const risky of ['^/api/(\\w+/?)*$', '/a.*b', '^/[a-z]+/[0-9]+$', '^/(?:a|b)*$']) {
      assert.equal(runsInLinearTime(compileGoRegex(risky, false, false)), true, risky);
    }
  });

  it('the rewrite for the linear engine spells out case-insensitivity and keeps escapes', () => {
    assert.equal(linearSource('^a[b-d]\\.(?<User>x)*$', true), '^[aA][\\u0062-\\u0064\\u0042-\\u0044]\\u002e(?<User>[xX])*$');
    assert.equal(linearSource('[^A-Z\\d]+', false), '[^\\u0041-\\u005a\\d]+');
  });
});

describe('subject: user, group and oauth2 client; outer OR, inner AND', () => {
  const cfg = acl([
    { domain: ['app.example.com'], subject: ['user:carol', ['group:admins', 'group:dev']], policy: 'two_factor' },
    { domain: ['app.example.com'], subject: ['oauth2:client:backup-bot'], policy: 'one_factor' },
    { domain: ['app.example.com'], subject: ['group:dev'], policy: 'one_factor' },
    { domain: ['app.example.com'], policy: 'deny' },
  ]);
  cases(cfg, [
    { name: 'a user: entry matches that user', url: 'https://app.example.com/', subject: carol, policy: 'two_factor', rule: 0 },
    { name: 'an inner list matches when every criterion holds', url: 'https://app.example.com/', subject: alice, policy: 'two_factor', rule: 0 },
    { name: 'an inner list fails when one criterion fails', url: 'https://app.example.com/', subject: bob, policy: 'one_factor', rule: 2 },
    { name: 'oauth2:client: matches the client id', url: 'https://app.example.com/', subject: { clientId: 'backup-bot', groups: [] }, policy: 'one_factor', rule: 1 },
    { name: 'no subject entry matches: falls through', url: 'https://app.example.com/', subject: { username: 'mallory', groups: ['guests'] }, policy: 'deny', rule: 3 },
    { name: 'user names are exact', url: 'https://app.example.com/', subject: { username: 'Carol', groups: [] }, policy: 'deny', rule: 3 },
    { name: 'anonymous matches the first subject rule (Rule Matching Concept 2)', url: 'https://app.example.com/', subject: null, policy: 'two_factor', rule: 0 },
    { name: 'a subject with no name, client or groups is anonymous', url: 'https://app.example.com/', subject: { groups: [] }, policy: 'two_factor', rule: 0 },
  ]);
  it('anonymous on a subject-bearing deny rule is told the rule has subjects, so it is sent to log in', () => {
    const a = compileAccessControl(acl([
      { domain: ['app.example.com'], subject: ['group:banned'], policy: 'deny' },
      { domain: ['app.example.com'], policy: 'one_factor' },
    ]));
    assert.deepEqual(a.evaluate(req('https://app.example.com/'), null), { policy: 'deny', rule: 0, hasSubjects: true });
    assert.deepEqual(a.evaluate(req('https://app.example.com/'), alice), { policy: 'one_factor', rule: 1, hasSubjects: false });
  });
  it('a rule without subject criteria reports hasSubjects false', () => {
    const a = compileAccessControl(acl([{ domain: ['app.example.com'], policy: 'deny' }]));
    assert.equal(a.evaluate(req('https://app.example.com/'), null).hasSubjects, false);
  });
});

describe('methods: upper-case verbs', () => {
  cases(acl([
    { domain: ['app.example.com'], methods: ['get', 'HEAD', 'OPTIONS'], policy: 'bypass' },
    { domain: ['app.example.com'], policy: 'two_factor' },
  ]), [
    { name: 'a listed method matches (config lower-case is upper-cased)', url: 'https://app.example.com/', method: 'GET', subject: null, policy: 'bypass', rule: 0 },
    { name: 'the request method is compared upper-case', url: 'https://app.example.com/', method: 'options', subject: null, policy: 'bypass', rule: 0 },
    { name: 'an unlisted method falls through', url: 'https://app.example.com/', method: 'POST', subject: alice, policy: 'two_factor', rule: 1 },
  ]);
});

describe('networks: CIDRs, named groups, IPv6 and IPv4-mapped addresses', () => {
  const cfg = acl([
    { domain: ['app.example.com'], networks: ['internal'], policy: 'one_factor' },
    { domain: ['app.example.com'], networks: ['2001:db8:1::/48', '198.51.100.7'], policy: 'bypass' },
    { domain: ['app.example.com'], policy: 'two_factor' },
  ], { networks: [{ name: 'internal', networks: ['10.0.0.0/8', '192.168.1.0/24', 'fd00::/8'] }] });
  cases(cfg, [
    { name: 'IPv4 inside a named network', url: 'https://app.example.com/', ip: '10.20.30.40', subject: alice, policy: 'one_factor', rule: 0 },
    { name: 'IPv6 inside a named network', url: 'https://app.example.com/', ip: 'fd12:3456::1', subject: alice, policy: 'one_factor', rule: 0 },
    { name: 'IPv4-mapped IPv6 matches as IPv4 (dotted)', url: 'https://app.example.com/', ip: '::ffff:192.168.1.20', subject: alice, policy: 'one_factor', rule: 0 },
    { name: 'IPv4-mapped IPv6 matches as IPv4 (hex, upper-case)', url: 'https://app.example.com/', ip: '::FFFF:A14:1E28', subject: alice, policy: 'one_factor', rule: 0 },
    { name: 'IPv6 CIDR', url: 'https://app.example.com/', ip: '2001:db8:1:2::9', subject: null, policy: 'bypass', rule: 1 },
    { name: 'a bare address is a single host', url: 'https://app.example.com/', ip: '198.51.100.7', subject: null, policy: 'bypass', rule: 1 },
    { name: 'a neighbouring address is not', url: 'https://app.example.com/', ip: '198.51.100.8', subject: alice, policy: 'two_factor', rule: 2 },
    { name: 'outside every network', url: 'https://app.example.com/', ip: '203.0.113.1', subject: alice, policy: 'two_factor', rule: 2 },
    { name: 'an unparseable address matches no network', url: 'https://app.example.com/', ip: 'not-an-ip', subject: alice, policy: 'two_factor', rule: 2 },
  ]);
});

describe('every criterion of a rule must hold (AND)', () => {
  cases(acl([
    {
      domain: ['app.example.com'], resources: ['^/admin'], methods: ['POST'], networks: ['10.0.0.0/8'],
      subject: ['group:admins'], policy: 'two_factor',
    },
    { domain: ['app.example.com'], policy: 'one_factor' },
  ]), [
    { name: 'all criteria hold', url: 'https://app.example.com/admin', method: 'POST', ip: '10.1.1.1', subject: alice, policy: 'two_factor', rule: 0 },
    { name: 'wrong resource', url: 'https://app.example.com/home', method: 'POST', ip: '10.1.1.1', subject: alice, policy: 'one_factor', rule: 1 },
    { name: 'wrong method', url: 'https://app.example.com/admin', method: 'GET', ip: '10.1.1.1', subject: alice, policy: 'one_factor', rule: 1 },
    { name: 'wrong network', url: 'https://app.example.com/admin', method: 'POST', ip: '11.1.1.1', subject: alice, policy: 'one_factor', rule: 1 },
    { name: 'wrong subject', url: 'https://app.example.com/admin', method: 'POST', ip: '10.1.1.1', subject: bob, policy: 'one_factor', rule: 1 },
    { name: 'anonymous still needs the other criteria', url: 'https://app.example.com/admin', method: 'GET', ip: '10.1.1.1', subject: null, policy: 'one_factor', rule: 1 },
  ]);
});

describe('compileAccessControl refuses an invalid section', () => {
  it('throws ConfigError listing every problem', () => {
    assert.throws(
      () => compileAccessControl(acl([
        { domain: ['a.example.com'], resources: ['('], policy: 'one_factor' },
        { domain: ['a.example.com'], subject: ['user:x'], policy: 'bypass' },
      ])),
      (err: unknown) => err instanceof ConfigError && err.problems.length === 2,
    );
  });
});

describe('requiredLevel and second-factor detection', () => {
  it('maps policies to levels; deny is unreachable', () => {
    assert.deepEqual(
      (['bypass', 'one_factor', 'two_factor', 'deny'] as const).map(requiredLevel),
      [0, 1, 2, Infinity],
    );
  });
  it('finds two_factor in the default policy or any rule', () => {
    assert.equal(isSecondFactorRequiredAnywhere(acl([{ domain: ['a.example.com'], policy: 'one_factor' }])), false);
    assert.equal(isSecondFactorRequiredAnywhere(acl([{ domain: ['a.example.com'], policy: 'two_factor' }])), true);
    assert.equal(isSecondFactorRequiredAnywhere(acl([], { default_policy: 'two_factor' })), true);
  });
});

describe('explain: per-criterion outcome for diagnostics', () => {
  it('reports each criterion and marks anonymous subject matches as "may"', () => {
    const a = compileAccessControl(acl([
      { domain: ['app.example.com'], methods: ['POST'], policy: 'one_factor' },
      { domain: ['app.example.com'], subject: ['group:admins'], policy: 'two_factor' },
    ]));
    const [first, second] = a.explain(req('https://app.example.com/'), null);
    assert.deepEqual(first, { rule: 0, policy: 'one_factor', domain: true, resources: true, query: true, methods: false, networks: true, subjects: 'hit', matched: false });
    assert.deepEqual(second, { rule: 1, policy: 'two_factor', domain: true, resources: true, query: true, methods: true, networks: true, subjects: 'may', matched: true });
  });
});
