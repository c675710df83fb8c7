/** Password policy (ProxMenux's rules, server side) and hashing: argon2id out, pbkdf2_sha256 in. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { createPasswordHasher, passwordPolicyProblem } from '../../../../monitor/auth/passwords.ts';
import { verifyPassword } from '../../../../lib/password-hash.ts';

const FAST = { memory: 1024, iterations: 1, parallelism: 1 };

describe('password policy', () => {
  it('accepts 10+ characters from 3 of the 4 classes', () => {
    assert.equal(passwordPolicyProblem('Correct-Horse-42'), null);
    assert.equal(passwordPolicyProblem('lower-UPPER'), null);
    assert.equal(passwordPolicyProblem('lower12345!'), null);
  });

  it('names what is wrong', () => {
    assert.equal(passwordPolicyProblem('Ab1!'), 'Password must be at least 10 characters long');
    assert.equal(passwordPolicyProblem('abcdefghij12'), 'Password must contain at least 3 of: lowercase letters, uppercase letters, digits, symbols');
    assert.equal(passwordPolicyProblem(`Aa1${'x'.repeat(1024)}`), 'Password must be at most 1024 characters long');
  });

  it('refuses ProxMenux\'s denylist whatever the case, and the username', () => {
    assert.equal(passwordPolicyProblem('PassWord123'), 'Password is too common; choose a less predictable one');
    assert.equal(passwordPolicyProblem('QwertyUiop1'), null, 'only exact denylist entries');
    assert.equal(passwordPolicyProblem('Admin-User-1', 'admin-user-1'), 'Password must not be the username');
  });
});

describe('hashing', () => {
  const hasher = createPasswordHasher(FAST);

  it('writes argon2id and verifies it without asking for an upgrade', async () => {
    const hash = await hasher.hash('Correct-Horse-42');
    assert.match(hash, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    assert.deepEqual(await hasher.verify(hash, 'Correct-Horse-42'), { ok: true, upgrade: false });
    assert.deepEqual(await hasher.verify(hash, 'wrong'), { ok: false, upgrade: false });
  });

  it('verifies a ProxMenux pbkdf2_sha256 hash and asks for its upgrade', async () => {
    const salt = randomBytes(16);
    const hash = `pbkdf2_sha256$1000$${salt.toString('base64')}$${pbkdf2Sync('Correct-Horse-42', salt, 1000, 32, 'sha256').toString('base64')}`;
    assert.deepEqual(await hasher.verify(hash, 'Correct-Horse-42'), { ok: true, upgrade: true });
    assert.deepEqual(await hasher.verify(hash, 'Correct-Horse-43'), { ok: false, upgrade: false });
  });

  it('fails for a missing user after doing a real verification, against an argon2id hash of the configured parameters', async () => {
    const asked: string[] = [];
    const counting = createPasswordHasher(FAST, {
      verifyPassword: async (hash, password) => {
        asked.push(hash);
        return verifyPassword(hash, password);
      },
    });
    assert.deepEqual(await counting.verify(null, 'anything'), { ok: false, upgrade: false });
    assert.equal(asked.length, 1, 'one verification, as for a user who exists');
    assert.match(asked[0]!, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    // even the dummy's own password fails: a missing user never passes
    assert.deepEqual(await counting.verify(null, asked[0]!), { ok: false, upgrade: false });
    assert.equal(asked.length, 2);
  });
});
