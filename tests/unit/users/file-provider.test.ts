import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { makeTempDir } from '../../helpers/tmp.ts';
import { FileUserProvider, type FileUserProviderOptions } from '../../../gateway/users/file-provider.ts';
import { hashPassword, verifyPassword } from '../../../lib/password-hash.ts';
import { InvalidUserInputError, UserExistsError, UserNotFoundError, UsersFileError } from '../../../gateway/users/errors.ts';
import { captureLogs, LEVEL, type LogRecord } from './log-capture.ts';

const FAST_ARGON2 = { iterations: 1, memory: 1024, parallelism: 1, key_length: 32, salt_length: 16 };

let alicePassword: string; // argon2id of 'alice-password'
let bobPassword: string; // argon2id of 'bob-password'

before(async () => {
  alicePassword = await hashPassword('alice-password', FAST_ARGON2);
  bobPassword = await hashPassword('bob-password', FAST_ARGON2);
});

function usersYaml(): string {
  return `# managed by hand
users:
  alice:
    displayname: Alice Liddell
    password: "${alicePassword}"
    email: alice@example.com
    groups: [admins, dev]
    given_name: Alice   # Authelia's profile attributes are kept (details.attributes)
  bob:
    displayname: Bob
    password: '${bobPassword}'
    email: [bob@example.com, robert@example.org]
    groups:
      - dev
  mallory:
    displayname: Mallory
    password: "${alicePassword}"
    disabled: true
`;
}

async function openProvider(dir: string, overrides: Partial<FileUserProviderOptions> = {}) {
  const { logger, records } = captureLogs();
  const provider = await FileUserProvider.open({
    path: join(dir, 'users.yml'),
    watch: false,
    password: { algorithm: 'argon2', argon2: FAST_ARGON2 },
    logger,
    ...overrides,
  });
  return { provider, records };
}

async function waitFor(condition: () => boolean, what: string, deadlineMs = 5000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Replace the file the way editors do: write a sibling, rename it over. */
async function replaceFile(path: string, text: string): Promise<void> {
  await writeFile(`${path}.swp`, text);
  await rename(`${path}.swp`, path);
}

describe('verifyPassword: only an enabled user with the right password gets in', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let provider: FileUserProvider;
  before(async () => {
    ({ dir, cleanup } = await makeTempDir());
    await writeFile(join(dir, 'users.yml'), usersYaml(), { mode: 0o600 });
    ({ provider } = await openProvider(dir));
  });
  after(async () => {
    await provider.close();
    await cleanup();
  });

  it('right password → the user details (e-mail as string or list)', async () => {
    const { credentialStamp, ...details } = (await provider.verifyPassword('alice', 'alice-password'))!;
    assert.deepEqual(details, {
      username: 'alice',
      displayName: 'Alice Liddell',
      emails: ['alice@example.com'],
      groups: ['admins', 'dev'],
      attributes: { given_name: 'Alice' },
    });
    assert.match(credentialStamp, /^[\w-]{22}$/);
    assert.deepEqual((await provider.verifyPassword('bob', 'bob-password'))?.emails, ['bob@example.com', 'robert@example.org']);
  });

  it('wrong password, unknown user and empty password all → null', async () => {
    assert.equal(await provider.verifyPassword('alice', 'bob-password'), null);
    assert.equal(await provider.verifyPassword('nobody', 'alice-password'), null);
    assert.equal(await provider.verifyPassword('alice', ''), null);
  });

  it('a disabled user is refused even with the right password, and getDetails hides them', async () => {
    assert.equal(await provider.verifyPassword('mallory', 'alice-password'), null);
    assert.equal((await provider.getDetails('mallory')), null);
  });

  it('usernames are case-sensitive and e-mails are not logins unless search says so', async () => {
    assert.equal(await provider.verifyPassword('Alice', 'alice-password'), null);
    assert.equal(await provider.verifyPassword('alice@example.com', 'alice-password'), null);
  });

  it('getDetails returns the current groups, null for unknown users', async () => {
    assert.deepEqual((await provider.getDetails('bob'))?.groups, ['dev']);
    assert.equal((await provider.getDetails('nobody')), null);
  });

  it('listUsers shows every user with the disabled flag, in file order', () => {
    assert.deepEqual(
      provider.listUsers().map((u) => [u.username, u.disabled]),
      [['alice', false], ['bob', false], ['mallory', true]],
    );
  });

  it('an unknown user costs an argon2 verification too (no timing oracle on existence)', async () => {
    // counted, not timed: each failed check, known user or not, runs exactly one verification, and
    // the unknown user's is against an argon2id hash with the configured parameters
    const slow = { ...FAST_ARGON2, memory: 16384, iterations: 2 };
    const { dir: slowDir, cleanup: slowCleanup } = await makeTempDir();
    const carolHash = await hashPassword('carol-password', slow);
    await writeFile(join(slowDir, 'users.yml'), `users:\n  carol:\n    password: "${carolHash}"\n`);
    const checked: string[] = [];
    const { provider: slowProvider } = await openProvider(slowDir, {
      password: { algorithm: 'argon2', argon2: slow },
      verifyPassword: async (encoded, password) => {
        checked.push(encoded);
        return verifyPassword(encoded, password);
      },
    });
    assert.equal(await slowProvider.verifyPassword('carol', 'wrong-password'), null);
    assert.deepEqual(checked, [carolHash]);
    assert.equal(await slowProvider.verifyPassword('nobody', 'wrong-password'), null);
    assert.equal(checked.length, 2);
    assert.match(checked[1]!, /^\$argon2id\$v=19\$m=16384,t=2,p=1\$/);
    await slowProvider.close();
    await slowCleanup();
  });
});

describe('search options (authentication_backend.file.search)', () => {
  it('case_insensitive: Alice logs in as alice and gets the canonical name back', async () => {
    const { dir, cleanup } = await makeTempDir();
    await writeFile(join(dir, 'users.yml'), usersYaml());
    const { provider } = await openProvider(dir, { search: { email: false, case_insensitive: true } });
    assert.equal((await provider.verifyPassword('ALICE', 'alice-password'))?.username, 'alice');
    assert.equal((await provider.getDetails('Bob'))?.username, 'bob');
    await provider.close();
    await cleanup();
  });

  it('email: any of the user e-mails works as the login name, in any case', async () => {
    const { dir, cleanup } = await makeTempDir();
    await writeFile(join(dir, 'users.yml'), usersYaml());
    const { provider } = await openProvider(dir, { search: { email: true, case_insensitive: false } });
    assert.equal((await provider.verifyPassword('Robert@Example.org', 'bob-password'))?.username, 'bob');
    assert.equal(await provider.verifyPassword('robert@example.org', 'alice-password'), null);
    await provider.close();
    await cleanup();
  });

  it('names that collide under the search rules are refused at load', async () => {
    const { dir, cleanup } = await makeTempDir();
    const path = join(dir, 'users.yml');
    await writeFile(
      path,
      `users:\n  alice:\n    password: "${alicePassword}"\n    email: shared@example.com\n  Alice:\n    password: "${alicePassword}"\n    email: SHARED@example.com\n`,
    );
    await assert.rejects(openProvider(dir, { search: { email: true, case_insensitive: true } }), (error: unknown) => {
      assert.ok(error instanceof UsersFileError);
      assert.deepEqual(error.problems, [
        "users.Alice: same name as 'alice' (search.case_insensitive is on)",
        "users.Alice.email: 'shared@example.com' is also the e-mail of 'alice'; with search.email an address must belong to one user",
      ]);
      return true;
    });
    await cleanup();
  });
});

describe('a malformed users file is refused at startup with every problem named', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await makeTempDir()));
  after(() => cleanup());

  it('lists each problem as "users file <path>: <yaml path>: <what>"', async () => {
    const path = join(dir, 'users.yml');
    await writeFile(
      path,
      `users:
  alice:
    displayname: Alice
  bob:
    password: "${bobPassword}"
    email: not-an-address
  bobby:
    password: "${bobPassword}"
    email: [bobby@example.com, "bobby at example"]
  carol:
    password: hunter2
  dave:
    password: "${bobPassword}"
    groups: admins
  "john.doe":
    password: "${bobPassword}"
    groups: ["a,b"]
    disabled: "no"
`,
    );
    await assert.rejects(openProvider(dir), (error: unknown) => {
      assert.ok(error instanceof UsersFileError);
      assert.equal(error.code, 'users_file_invalid');
      assert.deepEqual(error.problems, [
        'users.alice.password: required',
        'users.bob.email: must be an e-mail address or a list of e-mail addresses',
        'users.bobby.email[1]: must be an e-mail address',
          'users.dave.groups: must be a list of group names',
        'users["john.doe"].groups[0]: must be a non-empty group name without commas or control characters',
        'users["john.doe"].disabled: must be true or false',
      ]);
      assert.match(error.message, new RegExp(`^users file ${path.replaceAll('.', '\\.')}: users\\.alice\\.password: required$`, 'm'));
      assert.equal(error.message.split('\n').length, 6);
      assert.doesNotMatch(error.message, /hunter2/, 'a plaintext password must not be echoed');
      return true;
    });
  });

  it('reports YAML syntax errors with their line', async () => {
    await writeFile(join(dir, 'users.yml'), 'users:\n  alice: {displayname: A\n  bob: 1\n');
    await assert.rejects(openProvider(dir), (error: unknown) => {
      assert.ok(error instanceof UsersFileError);
      assert.match(error.problems[0]!, /^yaml: .*line 3, column 3$/);
      return true;
    });
  });

  it('refuses alias bombs ("billion laughs") instead of expanding them', async () => {
    let yaml = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i <= 12; i++) yaml += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
    await writeFile(join(dir, 'users.yml'), `${yaml}users: {}\n`);
    await assert.rejects(openProvider(dir), (error: unknown) => {
      assert.ok(error instanceof UsersFileError);
      assert.deepEqual(error.problems, ['yaml: Excessive alias count indicates a resource exhaustion attack']);
      return true;
    });
  });

  it("explains a file without a 'users' mapping", async () => {
    await writeFile(join(dir, 'users.yml'), 'alice:\n  password: x\n');
    await assert.rejects(openProvider(dir), (error: unknown) => {
      assert.ok(error instanceof UsersFileError);
      assert.deepEqual(error.problems, ['users: required']);
      return true;
    });
    await writeFile(join(dir, 'users.yml'), '');
    await assert.rejects(openProvider(dir), /users file .*: must be a mapping with a 'users' key at the top level/);
  });
});

describe('a missing users file is created empty, private, with a warning', () => {
  it('creates users: {} with mode 0600 and logs how to add a user', async () => {
    const { dir, cleanup } = await makeTempDir();
    const path = join(dir, 'sub', 'users.yml');
    const { provider, records } = await openProvider(dir, { path });
    assert.deepEqual(parse(await readFile(path, 'utf8')), { users: {} });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(provider.listUsers(), []);
    const warning = records.find((r) => r.level === LEVEL.warn);
    assert.match(warning?.msg ?? '', /created an empty one; add a user with `gatehouse users add NAME`/);
    await provider.close();
    await cleanup();
  });

  it('warns when the users file is readable by others (its startup check)', async () => {
    const { dir, cleanup } = await makeTempDir();
    await writeFile(join(dir, 'users.yml'), usersYaml());
    await chmod(join(dir, 'users.yml'), 0o644);
    const { provider, records } = await openProvider(dir);
    await provider.startupCheck();
    assert.ok(records.some((r) => r.level === LEVEL.warn && /chmod 600/.test(r.msg)));
    await provider.close();
    await cleanup();
  });
});

describe('reload on change (watch: true)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let path: string;
  let provider: FileUserProvider;
  let records: LogRecord[];
  before(async () => {
    ({ dir, cleanup } = await makeTempDir());
    path = join(dir, 'users.yml');
    await writeFile(path, usersYaml(), { mode: 0o600 });
    ({ provider, records } = await openProvider(dir, { watch: true }));
  });
  after(async () => {
    await provider.close();
    await cleanup();
  });

  it('picks up a file replaced by rename, as editors save', async () => {
    await replaceFile(path, usersYaml().replace('groups: [admins, dev]', 'groups: [dev]'));
    await waitFor(() => provider.peekDetails('alice')?.groups.length === 1, 'alice to lose the admins group');
    assert.deepEqual((await provider.getDetails('alice'))?.groups, ['dev']);
    const info = records.findLast((r) => r.level === LEVEL.info);
    assert.equal(info?.msg, 'users file reloaded');
    assert.equal(info?.['users'], 3);
  });

  it('picks up a file rewritten in place', async () => {
    await writeFile(path, usersYaml().replace('mallory:', 'trudy:'));
    await waitFor(() => provider.peekDetails('trudy') === null && provider.listUsers().some((u) => u.username === 'trudy'), 'trudy to appear');
    assert.equal(provider.listUsers().some((u) => u.username === 'mallory'), false);
  });

  it('a malformed edit keeps the last good users and logs every problem', async () => {
    const errorsBefore = records.filter((r) => r.level === LEVEL.error).length;
    await replaceFile(path, usersYaml().replace(/password: '[^']*'/, 'password: [plaintext]'));
    await waitFor(() => records.filter((r) => r.level === LEVEL.error).length > errorsBefore, 'the rejection to be logged');
    const rejection = records.findLast((r) => r.level === LEVEL.error)!;
    assert.equal(rejection.msg, 'users file rejected; keeping the last good version');
    assert.deepEqual(rejection['problems'], [
      'users.bob.password: must be a password hash (make one with `gatehouse hash-password`)',
    ]);
    assert.equal((await provider.verifyPassword('bob', 'bob-password'))?.username, 'bob');

    // fixing the file applies it again
    await replaceFile(path, usersYaml());
    await waitFor(() => provider.listUsers().some((u) => u.username === 'mallory'), 'the fixed file to load');
  });

  it('reload() reports what happened, for SIGHUP', async () => {
    assert.deepEqual(await provider.reload(), { status: 'unchanged', users: 3 });
    await rename(path, `${path}.gone`);
    const result = await provider.reload();
    assert.equal(result.status, 'rejected');
    assert.equal((await provider.getDetails('alice'))?.username, 'alice');
    await rename(`${path}.gone`, path);
  });

  it('close() stops watching', async () => {
    const { dir: otherDir, cleanup: otherCleanup } = await makeTempDir();
    const otherPath = join(otherDir, 'users.yml');
    await writeFile(otherPath, usersYaml());
    const { provider: watched, records: otherRecords } = await openProvider(otherDir, { watch: true });
    await watched.close();
    await replaceFile(otherPath, 'users: {}\n');
    await new Promise((resolve) => setTimeout(resolve, 400)); // longer than the 200 ms debounce
    assert.equal(watched.listUsers().length, 3);
    assert.equal(otherRecords.filter((r) => r.msg === 'users file reloaded').length, 0);
    await otherCleanup();
  });
});

describe('user mutations rewrite the file atomically and keep everything else', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let path: string;
  let provider: FileUserProvider;
  before(async () => {
    ({ dir, cleanup } = await makeTempDir());
    path = join(dir, 'users.yml');
    await writeFile(path, usersYaml(), { mode: 0o644 });
    ({ provider } = await openProvider(dir));
  });
  after(async () => {
    await provider.close();
    await cleanup();
  });

  it('addUser writes an argon2id entry with mode 0600, keeping comments, other users and unknown fields', async () => {
    const details = await provider.addUser({
      username: 'carol',
      password: 'carol-password',
      displayName: 'Carol',
      email: 'carol@example.com',
      groups: ['dev'],
    });
    const { credentialStamp: _stamp, ...shown } = details;
    assert.deepEqual(shown, { username: 'carol', displayName: 'Carol', emails: ['carol@example.com'], groups: ['dev'] });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const text = await readFile(path, 'utf8');
    assert.match(text, /^# managed by hand$/m);
    assert.match(text, /groups: \[admins, dev\]\n    given_name: Alice +# Authelia's profile attributes are kept \(details\.attributes\)/);
    const data = parse(text) as { users: Record<string, Record<string, unknown>> };
    assert.deepEqual(Object.keys(data.users), ['alice', 'bob', 'mallory', 'carol']);
    assert.equal(data.users['alice']!['password'], alicePassword);
    assert.match(String(data.users['carol']!['password']), /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    assert.deepEqual(data.users['carol']!['groups'], ['dev']);
    assert.equal((await provider.verifyPassword('carol', 'carol-password'))?.username, 'carol');
  });

  it('addUser refuses an existing name (also in another case) and invalid names', async () => {
    await assert.rejects(provider.addUser({ username: 'alice', password: 'whatever-pass' }), UserExistsError);
    await assert.rejects(provider.addUser({ username: 'ALICE', password: 'whatever-pass' }), UserExistsError);
    await assert.rejects(provider.addUser({ username: 'bad name', password: 'whatever-pass' }), InvalidUserInputError);
    await assert.rejects(provider.addUser({ username: 'x'.repeat(65), password: 'whatever-pass' }), InvalidUserInputError);
    await assert.rejects(provider.addUser({ username: 'eve', password: 'whatever-pass', groups: ['a,b'] }), InvalidUserInputError);
  });

  it('updatePassword replaces only that hash: the old password stops working', async () => {
    await provider.updatePassword('bob', 'new-bob-password');
    assert.equal(await provider.verifyPassword('bob', 'bob-password'), null);
    assert.equal((await provider.verifyPassword('bob', 'new-bob-password'))?.username, 'bob');
    const data = parse(await readFile(path, 'utf8')) as { users: Record<string, Record<string, unknown>> };
    assert.deepEqual(data.users['bob']!['email'], ['bob@example.com', 'robert@example.org']);
    assert.equal(data.users['alice']!['password'], alicePassword);
    await assert.rejects(provider.updatePassword('nobody', 'whatever-pass'), UserNotFoundError);
  });

  it('deleteUser removes the entry; unknown users are an error', async () => {
    await provider.deleteUser('carol');
    assert.equal((await provider.getDetails('carol')), null);
    const data = parse(await readFile(path, 'utf8')) as { users: Record<string, unknown> };
    assert.deepEqual(Object.keys(data.users), ['alice', 'bob', 'mallory']);
    await assert.rejects(provider.deleteUser('carol'), UserNotFoundError);
  });

  it('mutations re-read the file first, so a hand edit made meanwhile is kept', async () => {
    await writeFile(path, (await readFile(path, 'utf8')).replace('displayname: Bob', 'displayname: Robert'));
    await provider.addUser({ username: 'dave', password: 'dave-password' });
    assert.equal((await provider.getDetails('bob'))?.displayName, 'Robert');
    assert.equal((await provider.getDetails('dave'))?.displayName, 'dave');
  });

  it('concurrent mutations are serialised: none is lost', async () => {
    await Promise.all(['u1', 'u2', 'u3', 'u4', 'u5'].map((username) => provider.addUser({ username, password: 'password-123' })));
    const data = parse(await readFile(path, 'utf8')) as { users: Record<string, unknown> };
    for (const username of ['u1', 'u2', 'u3', 'u4', 'u5']) assert.ok(username in data.users, `${username} was lost`);
  });

  it('a mutation refuses to write over a malformed file and leaves it untouched', async () => {
    const broken = (await readFile(path, 'utf8')).replace('displayname: Robert', 'displayname: [Robert');
    await writeFile(path, broken);
    await assert.rejects(provider.addUser({ username: 'erin', password: 'erin-password' }), UsersFileError);
    assert.equal(await readFile(path, 'utf8'), broken);
  });
});

describe('the credential stamp follows the password, so sessions can end with it', () => {
  it('changes when the password changes and when a user is deleted and made again, and only then', async () => {
    const { dir, cleanup } = await makeTempDir();
    const path = join(dir, 'users.yml');
    const provider = await FileUserProvider.open({ path, watch: false, logger: captureLogs().logger, password: { algorithm: 'argon2', argon2: FAST_ARGON2 } });
    try {
      await provider.addUser({ username: 'dora', password: 'first-password-1' });
      const first = (await provider.getDetails('dora'))!.credentialStamp;
      await provider.addUser({ username: 'erin', password: 'erin-password-1' });
      assert.equal((await provider.getDetails('dora'))!.credentialStamp, first, 'another user changing does not move it');
      await provider.updatePassword('dora', 'second-password-2');
      const second = (await provider.getDetails('dora'))!.credentialStamp;
      assert.notEqual(second, first);
      await provider.deleteUser('dora');
      await provider.addUser({ username: 'dora', password: 'second-password-2' });
      assert.notEqual((await provider.getDetails('dora'))!.credentialStamp, second, 'a new account with the same name and password is a new credential (new salt)');
    } finally {
      await provider.close();
      await cleanup();
    }
  });
});
