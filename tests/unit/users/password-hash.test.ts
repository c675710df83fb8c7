import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import {
  DEFAULT_ARGON2_PARAMS,
  UnsupportedHashError,
  hashPassword,
  isSupportedHash,
  needsRehash,
  verifyPassword,
} from '../../../lib/password-hash.ts';

const FAST_ARGON2 = { iterations: 1, memory: 1024, parallelism: 1, key_length: 32, salt_length: 16 };

/** passlib's "adapted base64": standard alphabet with `.` for `+`, no padding. */
function ab64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '').replaceAll('+', '.');
}

function passlibPbkdf2(scheme: string, digest: string, password: string, iterations: number, keyLength: number): string {
  const salt = randomBytes(16);
  return `$${scheme}$${iterations}$${ab64(salt)}$${ab64(pbkdf2Sync(password, salt, iterations, keyLength, digest))}`;
}

function proxmenuxPbkdf2(password: string, iterations: number): string {
  const salt = randomBytes(16);
  const key = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  return `pbkdf2_sha256$${iterations}$${salt.toString('base64')}$${key.toString('base64')}`;
}

describe('verifyPassword accepts every hash format an imported users file may hold', () => {
  const password = 'correct horse battery staple';
  const cases: Array<[string, () => Promise<string> | string]> = [
    ['argon2id written by Gatehouse', () => hashPassword(password, FAST_ARGON2)],
    ['bcrypt $2b$', () => bcrypt.hash(password, 4)],
    ['bcrypt $2a$', async () => (await bcrypt.hash(password, 4)).replace(/^\$2b\$/, '$2a$')],
    ['bcrypt $2y$ (PHP, htpasswd)', async () => (await bcrypt.hash(password, 4)).replace(/^\$2b\$/, '$2y$')],
    ['Authelia/passlib $pbkdf2$ (sha1)', () => passlibPbkdf2('pbkdf2', 'sha1', password, 1000, 20)],
    ['Authelia/passlib $pbkdf2-sha256$', () => passlibPbkdf2('pbkdf2-sha256', 'sha256', password, 1000, 32)],
    ['Authelia/passlib $pbkdf2-sha512$', () => passlibPbkdf2('pbkdf2-sha512', 'sha512', password, 1000, 64)],
    ['ProxMenux pbkdf2_sha256$', () => proxmenuxPbkdf2(password, 1000)],
  ];
  for (const [name, make] of cases) {
    it(`${name}: right password → true, wrong password → false`, async () => {
      const encoded = await make();
      assert.equal(isSupportedHash(encoded), true);
      assert.equal(await verifyPassword(encoded, password), true);
      assert.equal(await verifyPassword(encoded, `${password}!`), false);
      assert.equal(await verifyPassword(encoded, ''), false);
    });
  }

  it('a fixed Authelia-layout argon2id hash (m=65536,t=3,p=4) verifies', async () => {
    const encoded = '$argon2id$v=19$m=65536,t=3,p=4$Z2F0ZWhvdXNlLXZlY3Rvcg$bwWfHXSepkKP6WYD3sb/Mnt2wzIKo2kIQPKf+DDDSlg';
    assert.equal(await verifyPassword(encoded, 'authelia-style'), true);
    assert.equal(await verifyPassword(encoded, 'Authelia-style'), false);
  });

  it("passlib's documented $pbkdf2-sha256$ example verifies (adapted base64 with '.')", async () => {
    const encoded = '$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M';
    assert.equal(await verifyPassword(encoded, 'password'), true);
    assert.equal(await verifyPassword(encoded, 'passwore'), false);
  });

  it("PHP's documented $2y$ example verifies", async () => {
    const encoded = '$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a';
    assert.equal(await verifyPassword(encoded, 'rasmuslerdorf'), true);
    assert.equal(await verifyPassword(encoded, 'rasmuslerdorF'), false);
  });

  it('a tampered hash does not verify', async () => {
    const encoded = proxmenuxPbkdf2('secret-password', 1000);
    const key = Buffer.from(encoded.split('$')[3]!, 'base64');
    key[0]! ^= 1;
    const tampered = encoded.split('$').slice(0, 3).concat(key.toString('base64')).join('$');
    assert.equal(await verifyPassword(tampered, 'secret-password'), false);
  });
});

describe('unknown, malformed or hostile hashes are refused, never treated as a match', () => {
  const refused: Array<[string, string]> = [
    ['plaintext', 'hunter2hunter2'],
    ['empty', ''],
    ['md5-crypt', '$1$c9809462$M0zeLuOvixH61C2csGN.U0'],
    ['sha512-crypt with a short hash part', '$6$rounds=5000$saltsalt$' + 'a'.repeat(80)],
    ['unknown pbkdf2 digest', '$pbkdf2-md5$1000$c2FsdHNhbHQ$' + 'A'.repeat(22)],
    ['truncated argon2id', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ'],
    ['argon2 with data= parameter', '$argon2id$v=19$m=1024,t=1,p=1,data=abcd$c2FsdHNhbHRzYWx0$' + 'A'.repeat(43)],
    ['argon2 memory of 1 TiB', '$argon2id$v=19$m=1073741824,t=1,p=1$c2FsdHNhbHRzYWx0$' + 'A'.repeat(43)],
    ['argon2 iterations 1000', '$argon2id$v=19$m=1024,t=1000,p=1$c2FsdHNhbHRzYWx0$' + 'A'.repeat(43)],
    ['argon2 version 42', '$argon2id$v=42$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$' + 'A'.repeat(43)],
    ['pbkdf2 with 20 million iterations', `$pbkdf2-sha512$20000000$${ab64(randomBytes(16))}$${ab64(randomBytes(64))}`],
    ['ProxMenux hash with 0 iterations', `pbkdf2_sha256$0$${randomBytes(16).toString('base64')}$${randomBytes(32).toString('base64')}`],
    ['ProxMenux hash with non-base64 key', `pbkdf2_sha256$1000$${randomBytes(16).toString('base64')}$not*base64`],
    ['bcrypt cost 31', '$2b$31$' + 'a'.repeat(53)],
    ['bcrypt of the wrong length', '$2b$10$' + 'a'.repeat(50)],
  ];
  for (const [name, encoded] of refused) {
    it(`${name}: throws UnsupportedHashError (code unsupported_hash)`, async () => {
      assert.equal(isSupportedHash(encoded), false);
      await assert.rejects(verifyPassword(encoded, 'hunter2hunter2'), (error: unknown) => {
        assert.ok(error instanceof UnsupportedHashError);
        assert.equal(error.code, 'unsupported_hash');
        return true;
      });
    });
  }
});

describe('hashPassword writes argon2id in Authelia layout', () => {
  it('uses Authelia defaults: $argon2id$v=19$m=65536,t=3,p=4, 16-byte salt, 32-byte key', async () => {
    assert.deepEqual(DEFAULT_ARGON2_PARAMS, { iterations: 3, memory: 65536, parallelism: 4, key_length: 32, salt_length: 16 });
    const encoded = await hashPassword('a password');
    const match = /^\$argon2id\$v=19\$m=65536,t=3,p=4\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(encoded);
    assert.ok(match, encoded);
    assert.equal(Buffer.from(match[1]!, 'base64').length, 16);
    assert.equal(Buffer.from(match[2]!, 'base64').length, 32);
    assert.equal(await verifyPassword(encoded, 'a password'), true);
  });

  it('honours the configured parameters and salts every hash', async () => {
    const a = await hashPassword('same', { ...FAST_ARGON2, key_length: 64, salt_length: 32 });
    const b = await hashPassword('same', { ...FAST_ARGON2, key_length: 64, salt_length: 32 });
    assert.match(a, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    assert.notEqual(a, b);
    assert.equal(Buffer.from(a.split('$')[5]!, 'base64').length, 64);
    assert.equal(await verifyPassword(b, 'same'), true);
  });

  it('refuses parameters it could not verify later', async () => {
    await assert.rejects(hashPassword('x', { ...FAST_ARGON2, memory: 8_000_000 }), RangeError);
    await assert.rejects(hashPassword('x', { ...FAST_ARGON2, salt_length: 4 }), RangeError);
  });
});

describe('needsRehash: everything but argon2id should be upgraded', () => {
  it('argon2id → false; argon2i, bcrypt, pbkdf2, ProxMenux and junk → true', async () => {
    assert.equal(needsRehash(await hashPassword('x', FAST_ARGON2)), false);
    assert.equal(needsRehash('$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$' + 'A'.repeat(43)), true);
    assert.equal(needsRehash(await bcrypt.hash('x', 4)), true);
    assert.equal(needsRehash(passlibPbkdf2('pbkdf2-sha512', 'sha512', 'x', 1000, 64)), true);
    assert.equal(needsRehash(proxmenuxPbkdf2('x', 1000)), true);
    assert.equal(needsRehash('plaintext'), true);
  });

  it('with the configured parameters: an argon2id hash weaker than them → true, as strong or stronger → false', async () => {
    const configured = { ...FAST_ARGON2, memory: 2048, iterations: 2 };
    assert.equal(needsRehash(await hashPassword('x', FAST_ARGON2), configured), true);
    assert.equal(needsRehash(await hashPassword('x', { ...configured, iterations: 1 }), configured), true);
    assert.equal(needsRehash(await hashPassword('x', configured), configured), false);
    assert.equal(needsRehash(await hashPassword('x', { ...configured, memory: 4096 }), configured), false);
  });
});
