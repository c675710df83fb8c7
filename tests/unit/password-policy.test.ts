/** The one password policy (lib/password-policy.ts): Authelia's password_policy keys, and Gatehouse's default. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPasswordPolicy, DEFAULT_PASSWORD_POLICY, passwordPolicySchema, passwordPolicyProblems } from '../../lib/password-policy.ts';
import { renderProblem } from '../../lib/config-problems.ts';

const policy = (input: unknown) => createPasswordPolicy(passwordPolicySchema.parse(input));
const standard = (options: Record<string, unknown>) => policy({ standard: { enabled: true, ...options } });
const problems = (input: unknown) => passwordPolicyProblems(passwordPolicySchema.parse(input)).map(renderProblem);

describe('the default policy (no password_policy enabled)', () => {
  const problem = (password: string, username?: string) => DEFAULT_PASSWORD_POLICY.problem(password, username);

  it('accepts 10+ characters, passphrases included: no character-class rule', () => {
    assert.equal(problem('Correct-Horse-42'), null);
    assert.equal(problem('lower-UPPER'), null);
    assert.equal(problem('lower12345!'), null);
    assert.equal(problem('correct horse battery staple'), null);
    assert.equal(problem('long enough password'), null);
  });

  it('names what is wrong: too short, too long', () => {
    assert.equal(problem('Ab1!'), 'Password must be at least 10 characters long');
    assert.equal(problem(`Aa1${'x'.repeat(1024)}`), 'Password must be at most 1024 characters long');
  });

  it('counts characters, not UTF-16 units: nine emoji are too short', () => {
    assert.equal(problem('😀'.repeat(9)), 'Password must be at least 10 characters long');
    assert.equal(problem('😀'.repeat(10)), null);
  });

  it("refuses ProxMenux's denylist whatever the case, and the username", () => {
    assert.equal(problem('PassWord123'), 'Password is too common; choose a less predictable one');
    assert.equal(problem('QwertyUiop1'), null, 'only exact denylist entries');
    assert.equal(problem('Admin-User-1', 'admin-user-1'), 'Password must not be the username');
  });

  it('is what an absent or all-disabled password_policy gives', () => {
    for (const input of [{}, { standard: { enabled: false, min_length: 30 } }]) {
      assert.equal(policy(input).problem('Ab1!'), 'Password must be at least 10 characters long');
      assert.equal(policy(input).problem('long enough password'), null);
    }
  });
});

describe('password_policy.standard (Authelia 4.39 keys)', () => {
  it('min_length: defaults to 8, as in Authelia', () => {
    assert.equal(standard({}).problem('abcdefg'), 'Password must be at least 8 characters long');
    assert.equal(standard({}).problem('abcdefgh1'), null);
    assert.equal(standard({ min_length: 16 }).problem('fifteen chars!!'), 'Password must be at least 16 characters long');
  });

  it('max_length: 0 means Gatehouse\'s limit of 1024; otherwise that many characters', () => {
    assert.equal(standard({}).problem('x'.repeat(1025)), 'Password must be at most 1024 characters long');
    assert.equal(standard({ max_length: 12 }).problem('thirteen-char'), 'Password must be at most 12 characters long');
    assert.equal(standard({ max_length: 12 }).problem('twelve-chars'), null);
  });

  it('require_uppercase, require_lowercase, require_number, require_special: each one named', () => {
    assert.equal(standard({ require_uppercase: true }).problem('lowercase-only'), 'Password must contain an uppercase letter; it has no uppercase letter');
    assert.equal(standard({ require_lowercase: true }).problem('UPPERCASE-ONLY'), 'Password must contain a lowercase letter; it has no lowercase letter');
    assert.equal(standard({ require_number: true }).problem('no-digits-here'), 'Password must contain a digit; it has no digit');
    assert.equal(standard({ require_special: true }).problem('NoSymbolsHere1'), 'Password must contain a symbol (anything but a letter or a digit); it has no symbol (anything but a letter or a digit)');
    const all = standard({ require_uppercase: true, require_lowercase: true, require_number: true, require_special: true });
    assert.equal(all.problem('Correct-Horse-42'), null);
    assert.equal(
      all.problem('correct-horse'),
      'Password must contain an uppercase letter, a lowercase letter, a digit and a symbol (anything but a letter or a digit); it has no uppercase letter and digit',
    );
  });

  it('still refuses a common password and the username', () => {
    assert.equal(standard({}).problem('password123'), 'Password is too common; choose a less predictable one');
    assert.equal(standard({}).problem('alice-liddell', 'Alice-Liddell'), 'Password must not be the username');
  });
});

describe('password_policy validation', () => {
  it('standard and zxcvbn both enabled is an error', () => {
    assert.ok(problems({ standard: { enabled: true }, zxcvbn: { enabled: true } }).includes('config: password_policy: only one of standard and zxcvbn may be enabled; choose one'));
  });

  it('zxcvbn enabled alone is a valid configuration', () => {
    assert.deepEqual(problems({ zxcvbn: { enabled: true, min_score: 4 } }), []);
  });

  it('max_length above 1024 or below min_length is an error; disabled sections are not checked', () => {
    assert.deepEqual(problems({ standard: { enabled: true, max_length: 2000 } }), [
      "config: password_policy.standard.max_length: must be at most 1024, Gatehouse's limit (2000); 0 means that limit",
    ]);
    assert.deepEqual(problems({ standard: { enabled: true, min_length: 12, max_length: 10 } }), [
      'config: password_policy.standard.max_length: must be 0 or at least min_length (10 < 12)',
    ]);
    assert.deepEqual(problems({ standard: { enabled: false, max_length: 2000 }, zxcvbn: { enabled: false } }), []);
  });

  it('the schema refuses an unknown key and a zxcvbn score outside 0–4', () => {
    assert.equal(passwordPolicySchema.safeParse({ standard: { minimum: 3 } }).success, false);
    assert.equal(passwordPolicySchema.safeParse({ zxcvbn: { min_score: 5 } }).success, false);
  });
});

describe('password_policy.zxcvbn', () => {
  const zxcvbn = (minScore: number) => policy({ zxcvbn: { enabled: true, min_score: minScore } });

  it('refuses what zxcvbn scores below min_score, and says how strong it was', () => {
    assert.match(zxcvbn(3).problem('sunshine22') ?? '', /^Password is too easy to guess \(strength [0-2] of 4, at least 3 needed\)/);
    assert.match(zxcvbn(3).problem('qwertyuiop1') ?? '', /too easy to guess/, 'a keyboard walk');
  });

  it('accepts a few unrelated words, even short of the default 10 characters when they score enough', () => {
    assert.equal(zxcvbn(3).problem('Lantern-Orbit-47'), null);
    assert.equal(zxcvbn(3).problem('vex quill glyph'), null);
    assert.equal(zxcvbn(0).problem('abc'), null, 'min_score 0 takes anything but the common list and the username');
  });

  it('the username counts as a guess: a password built on it scores lower', () => {
    assert.equal(zxcvbn(3).problem('mordecaiblue77', 'someone'), null);
    assert.match(zxcvbn(3).problem('mordecaiblue77', 'mordecai') ?? '', /too easy to guess/, 'built on the username');
  });

  it('keeps the rules every policy has: the common list, the username, 1024 characters', () => {
    assert.match(zxcvbn(0).problem('Password123') ?? '', /too common/);
    assert.match(zxcvbn(0).problem('Fennel-Quartz-Ridge', 'fennel-quartz-ridge') ?? '', /must not be the username/);
    assert.match(zxcvbn(0).problem('x'.repeat(1025)) ?? '', /at most 1024/);
    assert.equal(zxcvbn(3).summary, 'hard to guess (strength at least 3 of 4)');
  });
});
