import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse } from 'yaml';
import { makeTempDir } from '../../helpers/tmp.ts';
import type { CliIO } from '../../../lib/cli-io.ts';
import { runHashPassword, runUsers } from '../../../gateway/users/cli.ts';
import { FileUserProvider } from '../../../gateway/users/file-provider.ts';
import { verifyPassword } from '../../../lib/password-hash.ts';
import { createPasswordPolicy, passwordPolicySchema } from '../../../lib/password-policy.ts';

const FAST_ARGON2 = { iterations: 1, memory: 1024, parallelism: 1, key_length: 32, salt_length: 16 };

interface FakeTerminal {
  io: CliIO;
  stdout: () => string;
  stderr: () => string;
  rawModeCalls: boolean[];
}

/** In-memory streams; `stdinText` is piped in, or `typed` lines are entered one per prompt on a fake TTY. */
function fakeIO(options: { stdinText?: string; typed?: string[] } = {}): FakeTerminal {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  const rawModeCalls: boolean[] = [];
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const typed = [...(options.typed ?? [])];
  stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
    if (/password: $/i.test(err) && typed.length > 0) stdin.write(`${typed.shift()}\r`);
  });
  if (options.typed !== undefined) Object.assign(stdin, { setRawMode: (mode: boolean) => rawModeCalls.push(mode) });
  if (options.stdinText !== undefined) stdin.end(options.stdinText);
  return {
    io: { stdin, stdout, stderr, isTTY: options.typed !== undefined },
    stdout: () => out,
    stderr: () => err,
    rawModeCalls,
  };
}

async function openQuietly(path: string): Promise<FileUserProvider> {
  return FileUserProvider.open({ path, watch: false, password: { algorithm: 'argon2', argon2: FAST_ARGON2 }, logger: pino({ level: 'silent' }) });
}

describe('gatehouse hash-password', () => {
  it('--password-stdin hashes the first line of stdin to argon2id', async () => {
    const t = fakeIO({ stdinText: 'my secret password\nnot part of it\n' });
    assert.equal(await runHashPassword(['--password-stdin'], t.io), 0);
    const hash = t.stdout().trim();
    assert.match(hash, /^\$argon2id\$v=19\$m=65536,t=3,p=4\$/);
    assert.equal(await verifyPassword(hash, 'my secret password'), true);
    assert.equal(await verifyPassword(hash, 'my secret password\nnot part of it'), false);
  });

  it('strips a Windows line ending too', async () => {
    const t = fakeIO({ stdinText: 'crlf-password\r\n' });
    assert.equal(await runHashPassword(['--password-stdin'], t.io), 0);
    assert.equal(await verifyPassword(t.stdout().trim(), 'crlf-password'), true);
  });

  it('on a terminal, asks twice without echo', async () => {
    const t = fakeIO({ typed: ['typed-password', 'typed-password'] });
    assert.equal(await runHashPassword([], t.io), 0);
    assert.equal(await verifyPassword(t.stdout().trim(), 'typed-password'), true);
    assert.deepEqual(t.rawModeCalls, [true, false, true, false]);
    assert.doesNotMatch(t.stderr(), /typed-password/);
  });

  it('on a terminal, different entries fail with exit 1 and print no hash', async () => {
    const t = fakeIO({ typed: ['typed-password', 'other-password'] });
    assert.equal(await runHashPassword([], t.io), 1);
    assert.equal(t.stdout(), '');
    assert.match(t.stderr(), /the passwords do not match/);
  });

  it('without a terminal and without --password-stdin: usage error 2 saying what to do', async () => {
    const t = fakeIO({ stdinText: 'x\n' });
    assert.equal(await runHashPassword([], t.io), 2);
    assert.match(t.stderr(), /pipe the password in and pass --password-stdin/);
  });

  it('empty stdin fails with exit 1', async () => {
    const t = fakeIO({ stdinText: '' });
    assert.equal(await runHashPassword(['--password-stdin'], t.io), 1);
    assert.match(t.stderr(), /no password on the first line of stdin/);
  });

  it('--help prints usage (0); an unknown option is a usage error (2)', async () => {
    const help = fakeIO();
    assert.equal(await runHashPassword(['--help'], help.io), 0);
    assert.match(help.stdout(), /^Usage: gatehouse hash-password \[--password-stdin\]/);
    const bad = fakeIO();
    assert.equal(await runHashPassword(['--pasword-stdin'], bad.io), 2);
    assert.match(bad.stderr(), /Unknown option '--pasword-stdin'/);
    assert.match(bad.stderr(), /Usage: gatehouse hash-password/);
  });
});

describe('gatehouse users', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let path: string;
  let usersFile: { path: string; argon2: typeof FAST_ARGON2 };
  before(async () => {
    ({ dir, cleanup } = await makeTempDir());
    path = join(dir, 'users.yml');
    usersFile = { path, argon2: FAST_ARGON2 };
  });
  after(() => cleanup());

  async function run(args: string[], stdinText?: string) {
    const t = fakeIO(stdinText === undefined ? {} : { stdinText });
    const code = await runUsers(args, t.io, usersFile);
    return { code, stdout: t.stdout(), stderr: t.stderr() };
  }

  it('list before any user exists: exit 1, says how to create the file', async () => {
    const result = await run(['list']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /users file .* does not exist; create it with 'gatehouse users add NAME'/);
  });

  it('add creates the file (0600) and a user who can log in', async () => {
    const result = await run(
      ['add', 'alice', '--display-name', 'Alice Liddell', '--email', 'alice@example.com', '--group', 'admins', '--group', 'dev', '--password-stdin'],
      'alice-password\n',
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /added user 'alice'/);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const provider = await openQuietly(path);
    const { credentialStamp: _stamp, ...loggedIn } = (await provider.verifyPassword('alice', 'alice-password'))!;
    assert.deepEqual(loggedIn, {
      username: 'alice',
      displayName: 'Alice Liddell',
      emails: ['alice@example.com'],
      groups: ['admins', 'dev'],
    });
    await provider.close();
  });

  it('add refuses a password shorter than the default policy\'s 10 characters and writes nothing', async () => {
    const before = await readFile(path, 'utf8');
    const result = await run(['add', 'bob', '--password-stdin'], 'short\n');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Password must be at least 10 characters long; nothing was changed/);
    assert.equal(await readFile(path, 'utf8'), before);
  });

  it('add and passwd follow the configured password_policy, with the message setup and the monitor give', async () => {
    const before = await readFile(path, 'utf8');
    const strict = { ...usersFile, passwordPolicy: createPasswordPolicy(passwordPolicySchema.parse({ standard: { enabled: true, min_length: 12, require_number: true } })) };
    const t = fakeIO({ stdinText: 'no digits in here\n' });
    assert.equal(await runUsers(['add', 'carol', '--password-stdin'], t.io, strict), 1);
    assert.equal(t.stderr(), 'gatehouse users add: Password must contain a digit; it has no digit; nothing was changed\n');
    const same = fakeIO({ stdinText: 'eleven-char\n' });
    assert.equal(await runUsers(['passwd', 'alice', '--password-stdin'], same.io, strict), 1);
    assert.equal(same.stderr(), 'gatehouse users passwd: Password must be at least 12 characters long; nothing was changed\n');
    const username = fakeIO({ stdinText: 'Carol-Liddell\n' });
    assert.equal(await runUsers(['add', 'carol-liddell', '--password-stdin'], username.io, usersFile), 1);
    assert.equal(username.stderr(), 'gatehouse users add: Password must not be the username; nothing was changed\n');
    assert.equal(await readFile(path, 'utf8'), before);
  });

  it('add refuses an existing user (exit 1) and bad names or arguments (exit 2)', async () => {
    const exists = await run(['add', 'alice', '--password-stdin'], 'another-password\n');
    assert.equal(exists.code, 1);
    assert.match(exists.stderr, /user 'alice' already exists; to change its password use 'gatehouse users passwd NAME'/);
    const badName = await run(['add', 'bad name!', '--password-stdin'], 'another-password\n');
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /invalid username 'bad name!'/);
    const noName = await run(['add', '--password-stdin'], 'another-password\n');
    assert.equal(noName.code, 2);
    assert.match(noName.stderr, /missing NAME/);
    const badEmail = await run(['add', 'carol', '--email', 'nope', '--password-stdin'], 'another-password\n');
    assert.equal(badEmail.code, 2);
    assert.match(badEmail.stderr, /invalid e-mail address 'nope'/);
  });

  it('passwd changes the password: the old one stops working', async () => {
    const result = await run(['passwd', 'alice', '--password-stdin'], 'new-alice-password\n');
    assert.equal(result.code, 0, result.stderr);
    const provider = await openQuietly(path);
    assert.equal(await provider.verifyPassword('alice', 'alice-password'), null);
    assert.equal((await provider.verifyPassword('alice', 'new-alice-password'))?.username, 'alice');
    await provider.close();
  });

  it('passwd for an unknown user fails with exit 1 before asking for a password', async () => {
    const t = fakeIO({ typed: [] });
    const code = await runUsers(['passwd', 'nobody'], t.io, usersFile);
    assert.equal(code, 1);
    assert.match(t.stderr(), /user 'nobody' does not exist; see 'gatehouse users list'/);
    assert.doesNotMatch(t.stderr(), /Password:/);
  });

  it('list prints a table, or JSON with --json', async () => {
    assert.equal((await run(['add', 'bob', '--password-stdin'], 'bob-password\n')).code, 0);
    const table = await run(['list']);
    assert.equal(table.code, 0);
    assert.deepEqual(table.stdout.trimEnd().split('\n'), [
      'USERNAME  DISPLAY NAME   EMAIL              GROUPS      STATUS',
      'alice     Alice Liddell  alice@example.com  admins,dev  enabled',
      'bob       bob            -                  -           enabled',
    ]);
    const json = await run(['list', '--json']);
    assert.deepEqual(JSON.parse(json.stdout), [
      { username: 'alice', displayName: 'Alice Liddell', emails: ['alice@example.com'], groups: ['admins', 'dev'], disabled: false },
      { username: 'bob', displayName: 'bob', emails: [], groups: [], disabled: false },
    ]);
  });

  it('delete removes the user; deleting again fails with exit 1', async () => {
    assert.equal((await run(['delete', 'bob'])).code, 0);
    const data = parse(await readFile(path, 'utf8')) as { users: Record<string, unknown> };
    assert.deepEqual(Object.keys(data.users), ['alice']);
    const again = await run(['delete', 'bob']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /user 'bob' does not exist/);
  });

  it('a malformed users file: exit 1 with every problem and what to do', async () => {
    const original = await readFile(path, 'utf8');
    await writeFile(path, 'users:\n  alice:\n    password: [plaintext]\n    groups: admins\n');
    const result = await run(['list']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /users file .*: users\.alice\.password: must be a password hash/);
    assert.match(result.stderr, /users file .*: users\.alice\.groups: must be a list of group names/);
    assert.match(result.stderr, /fix the users file, then run the command again/);
    await writeFile(path, original);
  });

  it('a user whose hash nothing reads: the file loads, list says why they are disabled', async () => {
    const original = await readFile(path, 'utf8');
    await writeFile(path, 'users:\n  carol:\n    displayname: Carol\n    password: "$1$c9809462$M0zeLuOvixH61C2csGN.U0"\n');
    const result = await run(['list']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^carol +Carol +- +- +disabled \(unreadable password hash\)$/m);
    await writeFile(path, original);
  });

  it('usage: no command or an unknown one → 2; --help → 0', async () => {
    const none = await run([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^Usage: gatehouse users <command>/);
    const unknown = await run(['remove', 'alice']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'remove'/);
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /add NAME/);
    for (const command of ['add', 'passwd', 'delete', 'list']) {
      const commandHelp = await run([command, '--help']);
      assert.equal(commandHelp.code, 0);
      assert.match(commandHelp.stdout, new RegExp(`^Usage: gatehouse users ${command}`));
    }
    const extra = await run(['delete', 'alice', 'bob']);
    assert.equal(extra.code, 2);
    assert.match(extra.stderr, /unexpected argument 'bob'/);
  });
});

describe('gatehouse users: every command matches NAME as the login form does (search per configuration)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await makeTempDir());
  });
  after(() => cleanup());

  async function runWith(search: { email: boolean; case_insensitive: boolean }, path: string, args: string[], stdinText?: string) {
    const t = fakeIO(stdinText === undefined ? {} : { stdinText });
    const code = await runUsers(args, t.io, { path, argon2: FAST_ARGON2, search });
    return { code, stdout: t.stdout(), stderr: t.stderr() };
  }

  async function usersFileWithAlice(name: string, search: { email: boolean; case_insensitive: boolean }): Promise<string> {
    const path = join(dir, name);
    const added = await runWith(search, path, ['add', 'Alice', '--email', 'alice@example.com', '--password-stdin'], 'first-password\n');
    assert.equal(added.code, 0, added.stderr);
    return path;
  }

  it('search.email and case_insensitive on: passwd and delete take the e-mail or any case, and say the account', async () => {
    const search = { email: true, case_insensitive: true };
    const path = await usersFileWithAlice('both.yml', search);
    const byEmail = await runWith(search, path, ['passwd', 'ALICE@example.com', '--password-stdin'], 'second-password\n');
    assert.equal(byEmail.code, 0, byEmail.stderr);
    assert.equal(byEmail.stdout, `changed the password of 'Alice' in ${path}\n`);
    const deleted = await runWith(search, path, ['delete', 'alice']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, `deleted user 'Alice' from ${path}\n`);
  });

  it('both off: only the exact name; the e-mail and another case are no account', async () => {
    const search = { email: false, case_insensitive: false };
    const path = await usersFileWithAlice('neither.yml', search);
    for (const name of ['alice@example.com', 'alice']) {
      const passwd = await runWith(search, path, ['passwd', name, '--password-stdin'], 'second-password\n');
      assert.equal(passwd.code, 1, name);
      assert.match(passwd.stderr, new RegExp(`user '${name}' does not exist`));
      const deleted = await runWith(search, path, ['delete', name]);
      assert.equal(deleted.code, 1, name);
    }
  });

  it('add refuses a name another user has in any case, and with search.email a name that is another user\'s e-mail', async () => {
    const search = { email: true, case_insensitive: false };
    const path = await usersFileWithAlice('add.yml', search);
    const sameInOtherCase = await runWith(search, path, ['add', 'ALICE', '--password-stdin'], 'another-password\n');
    assert.equal(sameInOtherCase.code, 1);
    assert.match(sameInOtherCase.stderr, /user 'Alice' already exists/);
    const named = await runWith(search, path, ['add', 'Alice@Example.com', '--password-stdin'], 'another-password\n');
    assert.equal(named.code, 2);
    assert.match(named.stderr, /'Alice@Example\.com' is the e-mail of user 'Alice': with search\.email on, a username must not be another user's e-mail/);
    const withoutEmailSearch = await runWith({ email: false, case_insensitive: false }, path, ['add', 'alice@example.com', '--password-stdin'], 'another-password\n');
    assert.equal(withoutEmailSearch.code, 0, 'without search.email an e-mail is not a login name');
  });
});
