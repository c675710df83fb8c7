/**
 * The `query` criterion as Authelia evaluates it (internal/authorization/access_control_query.go):
 * outer list OR, inner list AND, the first value of a key, Go's query parsing, the default operator.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { runAccessControlCheck } from '../../../gateway/authz/check-cli.ts';
import { enableLinearEngine } from '../../../gateway/authz/linear-regex.ts';
import { compileQueryCriterion, effectiveOperator, parseQuery, type QueryCondition } from '../../../gateway/authz/query-criterion.ts';
import { compileAccessControl, type AccessControlConfig } from '../../../gateway/authz/rules.ts';

enableLinearEngine();

function matches(query: QueryCondition[][], raw: string): boolean {
  const m = compileQueryCriterion(query);
  assert.ok(m !== null);
  return m(parseQuery(raw));
}

describe("parseQuery reads a query as Go's url.ParseQuery", () => {
  const table: [string, [string, string[]][]][] = [
    ['a=1&b=2&a=3', [['a', ['1', '3']], ['b', ['2']]]],
    ['flag&empty=', [['flag', ['']], ['empty', ['']]]],
    ['q=a+b%20c&k%3D=%26', [['q', ['a b c']], ['k=', ['&']]]],
    ['&&x=1&', [['x', ['1']]]],
    ['a=1;b=2&c=3', [['c', ['3']]]], // a pair holding ';' is dropped
    ['bad=%zz&ok=1', [['ok', ['1']]]], // invalid percent-encoding drops the pair
    ['u=%C3%A9', [['u', ['é']]]],
    ['', []],
  ];
  for (const [raw, expected] of table) {
    it(JSON.stringify(raw), () => assert.deepEqual([...parseQuery(raw)], expected));
  }
});

describe('operators', () => {
  const table: [string, QueryCondition, string[], string[]][] = [
    ['equal', { key: 'a', value: 'x', operator: 'equal' }, ['a=x', 'a=x&a=y'], ['a=y&a=x', 'a=X', '', 'b=x']],
    ['not equal', { key: 'a', value: 'x', operator: 'not equal' }, ['a=y', '', 'a', 'a=y&a=x'], ['a=x']],
    ['present', { key: 'a', operator: 'present' }, ['a', 'a=', 'a=1'], ['A=1', 'b=1', '']],
    ['absent', { key: 'a', operator: 'absent' }, ['b=1', ''], ['a', 'a=1']],
    ['pattern (unanchored, RE2)', { key: 'id', value: '^[[:digit:]]+\\-x$', operator: 'pattern' }, ['id=12-x'], ['id=12-y', 'id=a1-x', '']],
    ['pattern matches the empty value of an absent key', { key: 'id', value: '^$', operator: 'pattern' }, ['', 'id='], ['id=1']],
    ['not pattern', { key: 'id', value: '(?i)admin', operator: 'not pattern' }, ['id=user', ''], ['id=xADMINx']],
    ['default operator with a value: equal', { key: 'a', value: 'x' }, ['a=x'], ['a=y', '']],
    ['default operator without a value: present', { key: 'a' }, ['a'], ['b']],
    ['operator names are read case-insensitively', { key: 'a', value: 'x', operator: 'Not Equal' }, ['a=y'], ['a=x']],
  ];
  for (const [name, condition, yes, no] of table) {
    it(name, () => {
      for (const raw of yes) assert.ok(matches([[condition]], raw), `must match ${JSON.stringify(raw)}`);
      for (const raw of no) assert.ok(!matches([[condition]], raw), `must not match ${JSON.stringify(raw)}`);
    });
  }

  it('the default operator is present for an empty value, equal otherwise', () => {
    assert.equal(effectiveOperator({ key: 'a', value: '' }), 'present');
    assert.equal(effectiveOperator({ key: 'a', value: null }), 'present');
    assert.equal(effectiveOperator({ key: 'a', value: 'v' }), 'equal');
    assert.equal(effectiveOperator({ key: 'a', operator: 'nope' }), null);
  });

  it('outer list OR, inner list AND', () => {
    const q: QueryCondition[][] = [
      [{ key: 'share', operator: 'present' }, { key: 'token', value: '^[a-f0-9]{8}$', operator: 'pattern' }],
      [{ key: 'public', value: 'yes' }],
    ];
    assert.ok(matches(q, 'share&token=deadbeef'));
    assert.ok(matches(q, 'public=yes'));
    assert.ok(!matches(q, 'share&token=nothex!!'));
    assert.ok(!matches(q, 'token=deadbeef'));
    assert.ok(!matches(q, 'public=no'));
    assert.ok(matches([[]], 'anything'), 'an empty AND matches, as in Authelia');
  });
});

const cfg: AccessControlConfig = {
  default_policy: 'deny',
  networks: [],
  rules: [
    { domain: ['app.example.com'], resources: ['^/files/'], query: [[{ key: 'share', operator: 'present' }, { key: 'token', value: '^[a-f0-9]{8}$', operator: 'pattern' }]], policy: 'bypass' },
    { domain: ['app.example.com'], policy: 'one_factor' },
  ],
};

describe('rules: the query criterion alongside the others', () => {
  const authz = compileAccessControl(cfg);
  const ask = (path: string) => authz.evaluate({ host: 'app.example.com', path, method: 'GET' }, null);
  it('matches by the target query', () => {
    assert.deepEqual([ask('/files/a?share&token=deadbeef').rule, ask('/files/a?share&token=deadbeef').policy], [0, 'bypass']);
    assert.equal(ask('/files/a?share&token=DEADBEEF').rule, 1);
    assert.equal(ask('/files/a?token=deadbeef').rule, 1);
    assert.equal(ask('/files/a').rule, 1);
    assert.equal(ask('/other?share&token=deadbeef').rule, 1, 'the other criteria still apply');
  });

  it('gatehouse access-control check shows the query column', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    stdout.on('data', (c: Buffer) => { out += c.toString(); });
    const code = await runAccessControlCheck(['--url', 'https://app.example.com/files/a?share&token=xyz'], { stdout, stderr }, cfg);
    stdout.end();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(code, 0);
    assert.match(out, /#\s+domain\s+resources\s+query\s+methods/);
    assert.match(out, /^\s+1\s+hit\s+hit\s+miss\s+hit\s+hit\s+hit\s+bypass$/m);
    assert.match(out, /policy: one_factor \(rule #2\)/);
  });
});
