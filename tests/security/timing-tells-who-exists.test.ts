// Issue 7, item 7: an unknown user was padded with a dummy argon2 check, but a user whose stored hash
// is slower or faster (bcrypt, pbkdf2, argon2 with other parameters) took another time, so the time
// told who exists. The unknown user's check now costs what the configured parameters cost, and a
// legacy or weaker hash is replaced with a configured one at the next successful login, so the
// difference disappears. Counted and captured through an injected verifier: nothing is timed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { FileUserProvider } from '../../gateway/users/file-provider.ts';
import { createPasswordHasher } from '../../monitor/auth/passwords.ts';
import { hashPassword, verifyPassword } from '../../lib/password-hash.ts';
import { captureLogs } from '../helpers/logs.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const PASSWORD = 'correct horse battery staple';
// the configured parameters: cheap for the test, but distinct from every hash the file starts with
const CONFIGURED = { iterations: 2, memory: 2048, parallelism: 1, key_length: 32, salt_length: 16 };
const CONFIGURED_PREFIX = '$argon2id$v=19$m=2048,t=2,p=1$';

function recordingVerifier() {
  const hashes: string[] = [];
  return {
    hashes,
    verify: async (encoded: string, password: string) => {
      hashes.push(encoded);
      return verifyPassword(encoded, password);
    },
  };
}

function ab64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '').replaceAll('+', '.');
}

async function legacyHashes(): Promise<Record<string, string>> {
  const salt = randomBytes(16);
  const proxSalt = randomBytes(16);
  return {
    bcrypt: await bcrypt.hash(PASSWORD, 4),
    pbkdf2: `$pbkdf2-sha512$1000$${ab64(salt)}$${ab64(pbkdf2Sync(PASSWORD, salt, 1000, 64, 'sha512'))}`,
    proxmenux: `pbkdf2_sha256$1000$${proxSalt.toString('base64')}$${pbkdf2Sync(PASSWORD, proxSalt, 1000, 32, 'sha256').toString('base64')}`,
    weak: await hashPassword(PASSWORD, { ...CONFIGURED, memory: 1024, iterations: 1 }),
  };
}

function usersFile(hashes: Record<string, string>): string {
  const lines = ['# edited by hand: this comment stays', 'users:'];
  for (const [name, hash] of Object.entries(hashes)) lines.push(`  ${name}:`, `    displayname: ${name}`, `    password: "${hash}"  # ${name}'s hash`);
  return `${lines.join('\n')}\n`;
}

async function open(dir: string, verify: (encoded: string, password: string) => Promise<boolean>, rehash?: boolean) {
  const { logger, records } = captureLogs();
  const provider = await FileUserProvider.open({
    path: join(dir, 'users.yml'),
    watch: false,
    password: { algorithm: 'argon2', argon2: CONFIGURED, ...(rehash === undefined ? {} : { rehash_on_login: rehash }) },
    logger,
    verifyPassword: verify,
  });
  return { provider, records };
}

describe('an unknown user costs a verification with the configured parameters', () => {
  it('gateway: an unknown and a disabled user are each checked once, against an argon2id hash made with them', async () => {
    const { dir, cleanup } = await makeTempDir();
    await writeFile(join(dir, 'users.yml'), `users:\n  mallory:\n    password: "${await hashPassword(PASSWORD, CONFIGURED)}"\n    disabled: true\n`);
    const verifier = recordingVerifier();
    const { provider } = await open(dir, verifier.verify);
    assert.equal(await provider.verifyPassword('nobody', 'guess'), null);
    assert.equal(await provider.verifyPassword('mallory', PASSWORD), null);
    assert.equal(verifier.hashes.length, 2);
    for (const hash of verifier.hashes) assert.ok(hash.startsWith(CONFIGURED_PREFIX), `dummy hash parameters: ${hash.split('$').slice(0, 4).join('$')}`);
    await provider.close();
    await cleanup();
  });

  it('monitor: an unknown user is checked once, against an argon2id hash made with the configured parameters', async () => {
    const verifier = recordingVerifier();
    const hasher = createPasswordHasher(CONFIGURED, { verifyPassword: verifier.verify });
    assert.deepEqual(await hasher.verify(null, 'guess', '198.51.100.7'), { ok: false, upgrade: false });
    assert.equal(verifier.hashes.length, 1);
    assert.ok(verifier.hashes[0]!.startsWith(CONFIGURED_PREFIX));
    // and a weaker argon2id hash is flagged for the upgrade the login route writes
    const weak = await hashPassword(PASSWORD, { ...CONFIGURED, iterations: 1 });
    assert.deepEqual(await hasher.verify(weak, PASSWORD, '203.0.113.5'), { ok: true, upgrade: true });
  });
});

describe('legacy and weaker hashes are re-hashed with the configured parameters at the next successful login', () => {
  it('bcrypt, pbkdf2, ProxMenux pbkdf2_sha256 and weak argon2id become configured argon2id; the file keeps its comments; each upgrade is logged', async () => {
    const { dir, cleanup } = await makeTempDir();
    const hashes = await legacyHashes();
    await writeFile(join(dir, 'users.yml'), usersFile(hashes));
    const verifier = recordingVerifier();
    const { provider, records } = await open(dir, verifier.verify);

    assert.equal(await provider.verifyPassword('bcrypt', 'wrong password'), null);
    assert.ok((await readFile(join(dir, 'users.yml'), 'utf8')).includes(hashes['bcrypt']!), 'a failed login changes nothing');

    for (const name of Object.keys(hashes)) {
      const user = await provider.verifyPassword(name, PASSWORD);
      assert.equal(user?.username, name);
      // the details returned carry the new credential stamp: the session made with them stays valid
      assert.equal(user.credentialStamp, (await provider.getDetails(name))?.credentialStamp);
    }
    const text = await readFile(join(dir, 'users.yml'), 'utf8');
    for (const [name, old] of Object.entries(hashes)) {
      assert.ok(!text.includes(old), `${name}'s old hash is gone`);
      assert.match(text, new RegExp(`password: "\\$argon2id\\$v=19\\$m=2048,t=2,p=1\\$[^"]+" # ${name}'s hash`));
    }
    assert.ok(text.startsWith('# edited by hand: this comment stays\n'));
    const upgrades = records.filter((r) => r['event'] === 'users.password_rehashed');
    assert.deepEqual(upgrades.map((r) => [r['user'], r['from']]), [['bcrypt', 'bcrypt'], ['pbkdf2', 'pbkdf2-sha512'], ['proxmenux', 'pbkdf2_sha256'], ['weak', 'argon2id']]);

    // from now on every one of them costs what the configured parameters cost
    verifier.hashes.length = 0;
    for (const name of Object.keys(hashes)) assert.ok(await provider.verifyPassword(name, PASSWORD));
    assert.ok(verifier.hashes.every((hash) => hash.startsWith(CONFIGURED_PREFIX)));
    await provider.close();
    await cleanup();
  });

  it('with authentication_backend.file.password.rehash_on_login: false the file is left as it is', async () => {
    const { dir, cleanup } = await makeTempDir();
    const hashes = await legacyHashes();
    const original = usersFile(hashes);
    await writeFile(join(dir, 'users.yml'), original);
    const { provider, records } = await open(dir, verifyPassword, false);
    for (const name of Object.keys(hashes)) assert.equal((await provider.verifyPassword(name, PASSWORD))?.username, name);
    assert.equal(await readFile(join(dir, 'users.yml'), 'utf8'), original);
    assert.equal(records.filter((r) => r['event'] === 'users.password_rehashed').length, 0);
    await provider.close();
    await cleanup();
  });
});
