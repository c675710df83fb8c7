/** The monitor's hashing: argon2id out, pbkdf2_sha256 in (its password policy: tests/unit/password-policy.test.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { createPasswordHasher } from '../../../../monitor/auth/passwords.ts';
import { verifyPassword } from '../../../../lib/password-hash.ts';

const FAST = { memory: 1024, iterations: 1, parallelism: 1 };

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
