/**
 * Go (RE2) patterns from Authelia configurations: each construct JavaScript rejects or reads
 * differently is translated (the JavaScript text is pinned), and the compiled rule matches what RE2
 * matches, on the backtracking engine and, for patterns that need it, on the linear one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGoRegex } from '../../../gateway/authz/rule-syntax.ts';
import { enableLinearEngine, runsInLinearTime } from '../../../gateway/authz/linear-regex.ts';
import { Re2UntranslatableError, translateRe2 } from '../../../gateway/authz/re2.ts';
import { accessControlProblems } from '../../../gateway/config/validate/access-control.ts';
import { renderProblem } from '../../../lib/config-problems.ts';

enableLinearEngine();

interface Row { re2: string; js: string; ci?: boolean; match: string[]; noMatch: string[] }

const TABLE: Row[] = [
  { re2: '^/api\\-v1/', js: '^/api\\u{2d}v1/', match: ['/api-v1/x'], noMatch: ['/apiv1/', '/api\\-v1/'] },
  { re2: '^/a\\#b\\@c\\:d\\~e\\%f', js: '^/a\\u{23}b\\u{40}c\\u{3a}d\\u{7e}e\\u{25}f', match: ['/a#b@c:d~e%f'], noMatch: ['/a\\#b'] },
  { re2: '^/x[\\-\\_]y$', js: '^/x[\\-_]y$', match: ['/x-y', '/x_y'], noMatch: ['/x\\y', '/xay'] },
  { re2: '(?i)^/Admin', js: '^/Admin', ci: true, match: ['/admin', '/ADMIN/x'], noMatch: ['/user'] },
  { re2: '^/a(?i)b|c', js: '^/a(?i:b)|(?i:c)', match: ['/aB', 'C', 'xc'], noMatch: ['/Ab', '/a'] },
  { re2: '^/(?i:ab)c$', js: '^/(?i:ab)c$', match: ['/ABc', '/abc'], noMatch: ['/abC'] },
  { re2: '^/(x(?i)y)z$', js: '^/(x(?i:y))z$', match: ['/xYz'], noMatch: ['/xYZ', '/XYz'] },
  { re2: '(?i)^/a(?-i)b$', js: '^/a(?-i:b$)', ci: true, match: ['/Ab'], noMatch: ['/AB'] },
  { re2: '^/[[:alpha:]]+$', js: '^/[A-Za-z]+$', match: ['/abcXYZ'], noMatch: ['/abc1', '/é'] },
  { re2: '^/[[:digit:][:upper:]]+$', js: '^/[0-9A-Z]+$', match: ['/A1B2'], noMatch: ['/a1'] },
  { re2: '^/[[:^digit:]]$', js: '^/[^0-9]$', match: ['/a', '/-'], noMatch: ['/5'] },
  { re2: '^/[x[:^alpha:]]$', js: '^/[x\\u{0}-\\u{40}\\u{5b}-\\u{60}\\u{7b}-\\u{10ffff}]$', match: ['/x', '/1'], noMatch: ['/a', '/Z'] },
  { re2: '^[[:punct:]]$', js: '^[\\u{21}-\\u{2f}\\u{3a}-\\u{40}\\u{5b}-\\u{60}\\u{7b}-\\u{7e}]$', match: ['!', '~', '_'], noMatch: ['a', ' '] },
  { re2: '\\A/api\\z', js: '^/api$', match: ['/api'], noMatch: ['/api/', 'x/api'] },
  { re2: '^(?P<User>\\w+)\\.example\\.com$', js: '^(?<User>\\w+)\\.example\\.com$', match: ['bob.example.com'], noMatch: ['example.com'] },
  { re2: '^/a{,2}$', js: '^/a\\{,2\\}$', match: ['/a{,2}'], noMatch: ['/aa'] },
  { re2: '^/[]a]$', js: '^/[\\]a]$', match: ['/]', '/a'], noMatch: ['/b'] },
  { re2: '^/\\Q.*+\\E$', js: '^/\\.\\*\\+$', match: ['/.*+'], noMatch: ['/ab'] },
  { re2: '^\\x{41}\\101\\x42$', js: '^AAB$', match: ['AAB'], noMatch: ['A'] },
  { re2: '^a\\sb\\Sc$', js: '^a[\\u{9}-\\u{a}\\u{c}-\\u{d}\\u{20}]b[^\\u{9}-\\u{a}\\u{c}-\\u{d}\\u{20}]c$', match: ['a b-c', 'a\tbxc'], noMatch: ['a\u00a0bxc', 'a\vbxc', 'a b c'] },
  { re2: '^/\\pL\\p{Greek}$', js: '^/\\p{L}\\p{Script=Greek}$', match: ['/aλ'], noMatch: ['/ab'] },
  { re2: '^/x.y$', js: '^/x[^\\n]y$', match: ['/x\ry', '/x-y'], noMatch: ['/x\ny'] },
  { re2: '(?s)^/x.y$', js: '^/x[^]y$', match: ['/x\ny'], noMatch: ['/xy'] },
  { re2: '(?U)^/(a+)', js: '^/(a+?)', match: ['/aaa'], noMatch: ['/b'] },
  { re2: '(?m)^b$', js: '(?m:^b$)', match: ['a\nb\nc'], noMatch: ['abc'] },
];

describe('RE2 → JavaScript translation', () => {
  for (const row of TABLE) {
    it(`${row.re2} → ${row.js}`, () => {
      const t = translateRe2(row.re2);
      assert.equal(t.source, row.js);
      assert.equal(t.caseInsensitive, row.ci ?? false);
      const re = compileGoRegex(row.re2, false, false);
      for (const s of row.match) assert.ok(re.test(s), `${row.re2} must match ${JSON.stringify(s)}`);
      for (const s of row.noMatch) assert.ok(!re.test(s), `${row.re2} must not match ${JSON.stringify(s)}`);
    });
  }

  it('(?U) swaps greedy and lazy: the capture is the shortest', () => {
    assert.equal(compileGoRegex('(?U)^/(a+)', false, false).exec('/aaa')?.[1], 'a');
    assert.equal(compileGoRegex('(?U)^/(a+?)', false, false).exec('/aaa')?.[1], 'aaa');
  });

  it('inline flags keep working when the pattern needs the linear-time engine', () => {
    const re = compileGoRegex('^/(?i:api)/(\\w+/?)*(?i)X$', false, false);
    assert.ok(runsInLinearTime(re));
    assert.ok(re.test('/API/a/b/x'));
    assert.ok(re.test('/api/a/X'));
    assert.ok(!re.test('/aPi-/a/x'));
    assert.ok(!compileGoRegex('^/(?i:api)/(\\w+/?)*X$', false, false).test('/api/a/x'));
    const escaped = compileGoRegex('^/[[:alpha:]\\-]+/(\\w+/?)*\\z', false, false);
    assert.ok(runsInLinearTime(escaped));
    assert.ok(escaped.test('/a-b/c/d'));
    assert.ok(!escaped.test('/a1/c'));
    const negatedPosix = compileGoRegex('^/([x[:^alpha:]]+/?)*$', false, false);
    assert.ok(runsInLinearTime(negatedPosix));
    assert.ok(negatedPosix.test('/x1/2-'));
    assert.ok(!negatedPosix.test('/a/'));
  });

  it('(?m) in a pattern that needs the linear-time engine is refused, saying so', () => {
    const problems = accessControlProblems({ default_policy: 'deny', networks: [], rules: [{ domain: ['a.example.com'], policy: 'one_factor', resources: ['(?m)^/(\\w+/?)*$'] }] }).map(renderProblem);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^config: access_control\.rules\[0\]\.resources: value .* does not support multi-line mode \(\(\?m\)\): simplify the pattern$/);
  });

  it('domain_regex stays case-insensitive and (?-i) turns that off for a part', () => {
    const re = compileGoRegex('^(?-i:Api)\\.example\\.com$', true, true);
    assert.ok(re.test('Api.EXAMPLE.com'));
    assert.ok(!re.test('api.example.com'));
  });

  it('refuses what has no JavaScript equivalent, saying what', () => {
    assert.throws(() => translateRe2('^/\\C'), (e: unknown) => e instanceof Re2UntranslatableError && /single byte/.test(e.message));
    assert.throws(() => translateRe2('^[\\Qab\\E]'), Re2UntranslatableError);
    assert.throws(() => translateRe2('^[[:bogus:]]'), (e: unknown) => e instanceof Re2UntranslatableError && /POSIX class/.test(e.message));
    assert.throws(() => translateRe2('^\\q'), (e: unknown) => e instanceof Re2UntranslatableError && /not RE2 syntax/.test(e.message));
  });

  it('the configuration names the rule, the option and the reason', () => {
    const problems = accessControlProblems({
      default_policy: 'deny',
      networks: [],
      rules: [
        { domain: ['a.example.com'], policy: 'one_factor', resources: ['^/ok\\-fine$'] },
        { domain: ['a.example.com'], policy: 'one_factor', resources: ['^/x\\C'] },
        { domain_regex: ['^(\\w+)\\1\\.example\\.com$'], policy: 'one_factor' },
      ],
    }).map(renderProblem);
    assert.deepEqual(problems, [
      "config: access_control.rules[1].resources: value '^/x\\C' is not a valid regular expression: '\\C' (any single byte) has no JavaScript equivalent",
      "config: access_control.rules[2].domain_regex: value '^(\\w+)\\1\\.example\\.com$' uses a construct that cannot run in linear time (backreferences or lookaround); RE2 syntax as in Authelia",
    ]);
  });
});
