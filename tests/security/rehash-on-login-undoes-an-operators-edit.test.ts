// Review of issue 7, item 5: the re-hash on login read the users file, hashed, and wrote it back, so an
// operator's edit landing in between (disabling a user) was undone; two logins at once left one session
// with a stamp that was already stale; a symlinked users file was replaced by a plain file; a read-only
// file made every login try (and fail) to write again. The re-hash now gives way to any outside edit,
// re-checks against the current hash when another re-hash won, writes through the symlink, and stops
// for the process once the file cannot be written.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { FileUserProvider, type FileUserProviderOptions } from '../../gateway/users/file-provider.ts';
import { verifyPassword } from '../../lib/password-hash.ts';
import { captureLogs } from '../helpers/logs.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const PASSWORD = 'correct horse battery staple';
const CHEAP = { iterations: 1, memory: 1024, parallelism: 1, key_length: 32, salt_length: 16 };

async function legacyUsers(): Promise<string> {
  return `# managed by hand\nusers:\n  alice:\n    displayname: Alice\n    password: "${await bcrypt.hash(PASSWORD, 4)}"\n  bob:\n    displayname: Bob\n    password: "${await bcrypt.hash(PASSWORD, 4)}"\n`;
}

async function withProvider(
  setup: (dir: string) => Promise<string>,
  options: Partial<FileUserProviderOptions>,
  test: (provider: FileUserProvider, path: string, logs: ReturnType<typeof captureLogs>) => Promise<void>,
): Promise<void> {
  const { dir, cleanup } = await makeTempDir('gatehouse-rehash-');
  const logs = captureLogs();
  try {
    const path = await setup(dir);
    const provider = await FileUserProvider.open({ path, watch: false, password: { algorithm: 'argon2', argon2: CHEAP }, logger: logs.logger, ...options });
    try {
      await test(provider, path, logs);
    } finally {
      await provider.close();
    }
  } finally {
    await cleanup();
  }
}

const plainFile = async (dir: string) => {
  const path = join(dir, 'users.yml');
  await writeFile(path, await legacyUsers(), { mode: 0o600 });
  return path;
};

describe("an operator's edit between the re-hash's read and its write is kept", () => {
  it('bob is disabled by hand while his login re-hashes: the edit stays, and so does his old hash', async () => {
    let path = '';
    await withProvider(
      async (dir) => (path = await plainFile(dir)),
      {
        beforeRehashWrite: async () => {
          const text = await readFile(path, 'utf8');
          await writeFile(path, text.replace('displayname: Bob', 'displayname: Bob\n    disabled: true'));
        },
      },
      async (provider) => {
        assert.equal((await provider.verifyPassword('bob', PASSWORD))?.username, 'bob');
        const text = await readFile(path, 'utf8');
        assert.match(text, /displayname: Bob\n {4}disabled: true/, 'the operator disabled bob');
        assert.match(text, /bob:\n {4}displayname: Bob\n {4}disabled: true\n {4}password: "\$2[aby]\$/, "bob's hash was not replaced");
        await provider.reload();
        assert.equal(await provider.verifyPassword('bob', PASSWORD), null, 'bob is disabled');
      },
    );
  });
});

describe('two logins of one user at once both carry the current credential stamp', () => {
  it('both verified the old hash; one re-hash wins, the other re-checks against its hash', async () => {
    let release!: () => void;
    const both = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    const verify = async (encoded: string, password: string) => {
      if (++started === 2) release();
      if (started <= 2) await both;
      return verifyPassword(encoded, password);
    };
    await withProvider(plainFile, { verifyPassword: verify }, async (provider) => {
      const [a, b] = await Promise.all([provider.verifyPassword('alice', PASSWORD), provider.verifyPassword('alice', PASSWORD)]);
      const current = (await provider.getDetails('alice'))!.credentialStamp;
      assert.equal(a?.credentialStamp, current, 'the first login');
      assert.equal(b?.credentialStamp, current, 'the second login');
    });
  });
});

describe('a symlinked users file is written through the link', () => {
  it('users.yml -> managed/users.yml: the link stays a link, the target gets the new hash', async () => {
    await withProvider(
      async (dir) => {
        await mkdir(join(dir, 'managed'));
        await writeFile(join(dir, 'managed', 'users.yml'), await legacyUsers(), { mode: 0o600 });
        await symlink(join(dir, 'managed', 'users.yml'), join(dir, 'users.yml'));
        return join(dir, 'users.yml');
      },
      {},
      async (provider, path) => {
        assert.equal((await provider.verifyPassword('alice', PASSWORD))?.username, 'alice');
        assert.ok((await lstat(path)).isSymbolicLink(), 'still a symlink');
        assert.match(await readFile(join(path, '..', 'managed', 'users.yml'), 'utf8'), /alice:\n {4}displayname: Alice\n {4}password: "\$argon2id\$/);
      },
    );
  });
});

describe('a users file that cannot be written turns re-hashing off for the process, logged once', () => {
  it('EROFS on the first re-hash: both logins succeed, one warning, no second attempt', async () => {
    let attempts = 0;
    await withProvider(
      plainFile,
      {
        beforeRehashWrite: async () => {
          attempts++;
          throw Object.assign(new Error('read-only file system'), { code: 'EROFS' });
        },
      },
      async (provider, path, logs) => {
        const before = await readFile(path, 'utf8');
        assert.equal((await provider.verifyPassword('alice', PASSWORD))?.username, 'alice');
        assert.equal((await provider.verifyPassword('bob', PASSWORD))?.username, 'bob');
        assert.equal(attempts, 1, 'the second login did not try to write');
        assert.equal(await readFile(path, 'utf8'), before);
        const warnings = logs.records.filter((r) => String(r['msg']).includes('re-hashing on login is off'));
        assert.equal(warnings.length, 1);
      },
    );
  });
});
