import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CelSyntaxError, MAX_DEPTH, MAX_HEIGHT, MAX_SOURCE, parseCel, type CelValue } from '../../../gateway/expression/cel-parse.ts';
import { CelEvalError, evaluateCel, MAX_SIZE } from '../../../gateway/expression/cel-eval.ts';

const USER: Record<string, CelValue> = {
  username: 'Alice@Example.com',
  groups: ['admin', 'dev'],
  email: 'alice@example.com',
  emails: ['alice@example.com', 'a@example.org'],
  address: { country: 'ES', locality: 'Madrid' },
  empty: '',
};

const run = (source: string, input: Record<string, CelValue> = USER): CelValue => evaluateCel(parseCel(source), input);
const evalError = (source: string, input: Record<string, CelValue> = USER) => assert.throws(() => run(source, input), CelEvalError, source);
const syntaxAt = (source: string, position: number, message: RegExp) =>
  assert.throws(() => parseCel(source), (err: unknown) => err instanceof CelSyntaxError && err.position === position && message.test(err.message), source);

describe('CEL subset: what users write', () => {
  const cases: [string, CelValue][] = [
    ['"admin" in groups', true],
    ["'ops' in groups", false],
    ['groups[0]', 'admin'],
    ['"admin" in groups ? 10 : 5', 10],
    ['username.split("@")[0].lowerAscii()', 'alice'],
    ['username.upperAscii()', 'ALICE@EXAMPLE.COM'],
    ['"sftpgo_admins" in groups ? "admin" : "sftpgo_managers" in groups ? "manager" : "user"', 'user'],
    ['"vaultwarden_admins" in groups ? ["admin"] : "vaultwarden_users" in groups ? ["user"] : [""]', ['']],
    ['email.endsWith("@example.com") && !("guests" in groups)', true],
    ['username.startsWith("Alice") || false', true],
    ['email.contains("@")', true],
    ['username.matches("^[A-Z][a-z]+@")', true],
    ['size(groups) == 2 && groups.size() == 2 && size("héllo") == 5', true],
    ['groups + ["extra"]', ['admin', 'dev', 'extra']],
    ['"x-" + groups[1]', 'x-dev'],
    ['groups.exists(g, g.startsWith("ad"))', true],
    ['groups.all(g, g.size() > 2)', true],
    ['groups.exists_one(g, g == "dev")', true],
    ['groups.filter(g, g != "dev")', ['admin']],
    ['groups.map(g, "app-" + g)', ['app-admin', 'app-dev']],
    ['groups.map(g, g == "dev", g.upperAscii())', ['DEV']],
    ['groups.join(",")', 'admin,dev'],
    ['address.country', 'ES'],
    ['address["locality"]', 'Madrid'],
    ['has(address.region) ? address.region : "none"', 'none'],
    ['"country" in address', true],
    ['{"a": 1, "b": [true]}', { a: 1, b: [true] }],
    ['1 + 2 * 3 - 4 / 3 % 2', 6],
    ['-(2) < 1 && 2 <= 2 && 3 > 2 && "b" >= "a"', true],
    ['string(7) + string(true)', '7true'],
    ['int("42") + 1', 43],
    ['empty == "" ? null : empty', null],
    ['[1, 2] == [1, 2] && {"a": 1} != {"a": 2} && "1" != 1', true],
    ['"  padded ".trim()', 'padded'],
    ['"a.b.c".replace(".", "/")', 'a/b/c'],
    ['"héllo".indexOf("l") == 2 && "héllo".substring(1, 3) == "él" && "héllo".charAt(4) == "o"', true],
    ["r'\\d+' + '\\u00e9\\n'", '\\d+é\n'],
    ['0x10 + 1u', 17],
  ];
  for (const [source, expected] of cases) {
    // through JSON: maps are made without a prototype, so a key `__proto__` is only a key
    it(source, () => assert.deepEqual(JSON.parse(JSON.stringify(run(source))), expected));
  }

  it('&& and || are decided by the side that decides, even when the other side has an error', () => {
    assert.equal(run('missing.field == 1 || true'), true);
    assert.equal(run('false && missing.field == 1'), false);
    evalError('missing.field == 1 || false');
  });
});

describe('CEL subset: errors while evaluating give no value', () => {
  for (const source of ['groups[5]', 'address.region', '"a" + 1', '1 + 1.5', '1 / 0', 'groups < 1', '!username', 'nobody', 'username ? 1 : 2', 'int("x")', '{"a": 1, "a": 2}', '9007199254740991 + 1']) {
    it(source, () => evalError(source));
  }
});

describe('CEL subset: refused when the configuration loads, with the character', () => {
  it('names what it does not support', () => {
    syntaxAt('groups.reverse()', 8, /the method '\.reverse\(\)' is not supported/);
    syntaxAt('timestamp(1)', 1, /the function 'timestamp' is not supported/);
    syntaxAt('size(groups, 1)', 1, /'size' takes 1 argument\(s\), not 2/);
    syntaxAt('username.matches(email)', 18, /must be a string literal/);
    syntaxAt('b"bytes"', 1, /bytes literals are not supported/);
    syntaxAt("'''long'''", 1, /triple-quoted/);
    syntaxAt('"\\q"', 2, /the escape '\\q' is not supported/);
    syntaxAt('"open', 1, /the string is not closed/);
    syntaxAt('a = 1', 3, /unexpected character '='/);
    syntaxAt('1 +', 4, /expected a value but found the end of the expression/);
    syntaxAt('(1', 3, /expected '\)' but found the end of the expression/);
    syntaxAt('1 2', 3, /unexpected '2' after a complete expression/);
    syntaxAt('for', 1, /'for' is a reserved word/);
    syntaxAt('has(groups)', 1, /'has' takes a field selection/);
    syntaxAt('99999999999999999999', 1, /out of range/);
  });
});

describe('CEL subset: hostile expressions stay bounded', () => {
  it('deep nesting is refused at the limit, quickly, without exhausting the stack', () => {
    for (const [open, close] of [['(', ')'], ['[', ']'], ['!', ''], ['-', ''], ['{"a":', '}']] as const) {
      const source = `${open.repeat(1000)}1${close.repeat(1000)}`.slice(0, MAX_SOURCE);
      assert.throws(() => parseCel(source), (err: unknown) => err instanceof CelSyntaxError && /nests deeper than 48 levels/.test(err.message), open);
    }
    assert.throws(() => parseCel('1 ? 2 : '.repeat(100) + '3'), /nests deeper/);
    assert.doesNotThrow(() => parseCel(`${'('.repeat(MAX_DEPTH - 1)}1${')'.repeat(MAX_DEPTH - 1)}`));
  });

  it('an over-long expression is refused before it is read', () => {
    assert.throws(() => parseCel(`"${'x'.repeat(MAX_SOURCE)}"`), /longer than 4096 characters/);
    // a long flat chain is refused past MAX_HEIGHT links (evaluating it would recurse once per link)
    assert.equal(run(Array(MAX_HEIGHT).fill('1').join(' + ')), MAX_HEIGHT);
    assert.throws(() => parseCel(Array(2048).fill('1').join('+')), /a chain of more than 256 operations/);
    assert.throws(() => parseCel(`a${'.a'.repeat(1000)}`), /a chain of more than 256 operations/);
    assert.throws(() => parseCel(`"x"${'.trim()'.repeat(500)}`), /a chain of more than 256 operations/);
  });

  it('huge strings and lists from the input stop at the size limit instead of growing', () => {
    const big = 'x'.repeat(MAX_SIZE);
    evalError('s + s', { s: big });
    evalError('l + l', { l: Array(MAX_SIZE).fill(1) });
    evalError('s.split("")', { s: big + 'y' });
    assert.equal(run('size(s)', { s: big }), MAX_SIZE);
  });

  it('nested macros over large lists stop at the step budget', () => {
    const l = Array.from({ length: 1000 }, (_, i) => i);
    const started = performance.now();
    evalError('l.exists(a, l.exists(b, l.exists(c, a + b + c < 0)))', { l });
    evalError('l.map(a, l.map(b, a * b))', { l });
    assert.ok(performance.now() - started < 2000, 'the step budget ends evaluation quickly');
  });

  it('a pattern that would backtrack is either refused or runs in linear time', () => {
    let node;
    try {
      node = parseCel('s.matches("(a+)+$")');
    } catch (err) {
      assert.ok(err instanceof CelSyntaxError);
      return;
    }
    const started = performance.now();
    assert.equal(evaluateCel(node, { s: 'a'.repeat(30_000) + 'b' }), false);
    assert.ok(performance.now() - started < 2000);
  });
});
