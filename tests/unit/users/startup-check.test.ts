// The users file's startup check: what is wrong with the file as it is on disk, said so that the
// operator can fix it. Unreadable or malformed is an error (the gateway does not start); permissions
// others could use are warnings, as for every credential file.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashPassword } from '../../../lib/password-hash.ts';
import { GatehouseError } from '../../../lib/errors.ts';
import { unreadableUsersFile, UsersFileError } from '../../../gateway/users/errors.ts';
import { FileUserProvider } from '../../../gateway/users/file-provider.ts';
import { makeTempDir } from '../../helpers/tmp.ts';
import { captureLogs, LEVEL } from './log-capture.ts';

const FAST_ARGON2 = { iterations: 1, memory: 1024, parallelism: 1, key_length: 32, salt_length: 16 };

let validText: string;
before(async () => {
  validText = `users:\n  alice:\n    displayname: Alice\n    password: "${await hashPassword('alice-password', FAST_ARGON2)}"\n`;
});

describe('startupCheck of the users file', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let path: string;
  let provider: FileUserProvider;
  let logs: ReturnType<typeof captureLogs>;
  before(async () => {
    ({ dir, cleanup } = await makeTempDir());
    await chmod(dir, 0o700);
    path = join(dir, 'users.yml');
  });
  after(() => cleanup());

  const openFresh = async () => {
    await rm(path, { recursive: true, force: true });
    await writeFile(path, validText, { mode: 0o600 });
    logs = captureLogs();
    provider = await FileUserProvider.open({ path, watch: false, logger: logs.logger, password: { algorithm: 'argon2', argon2: FAST_ARGON2 } });
  };
  const warnings = () => logs.records.filter((r) => r.level === LEVEL.warn).map((r) => r.msg);

  it('a private, valid file: passes, says nothing', async () => {
    await openFresh();
    await provider.startupCheck();
    assert.deepEqual(warnings(), []);
    await provider.close();
  });

  it('a file others can read: passes, with a warning naming the fix (as for every credential file)', async () => {
    await openFresh();
    await chmod(path, 0o644);
    await provider.startupCheck();
    assert.equal(warnings().length, 1, warnings().join('\n'));
    assert.match(warnings()[0]!, new RegExp(`^permissions: ${path} .*chmod 600 ${path}$`));
    await provider.close();
  });

  it('a file made malformed since it was loaded: an error naming every problem, by its place in the file', async () => {
    await openFresh();
    await writeFile(path, 'users:\n  alice:\n    password: {not: a-hash}\n    groups: admins\n', { mode: 0o600 });
    await assert.rejects(provider.startupCheck(), (error: unknown) => {
      assert.ok(error instanceof UsersFileError && error instanceof GatehouseError);
      assert.equal(error.code, 'users_file_invalid');
      assert.equal(error.problems.length, 2, error.message);
      for (const line of error.message.split('\n')) assert.ok(line.startsWith(`users file ${path}: users.alice.`), line);
      assert.match(error.message, /users\.alice\.password: must be a password hash \(make one with `gatehouse hash-password`\)/);
      assert.match(error.message, /users\.alice\.groups: must be a list of group names/);
      return true;
    });
    await provider.close();
  });

  it('a file that is not YAML: an error quoting the parser', async () => {
    await openFresh();
    await writeFile(path, 'users:\n  alice: [unclosed\n', { mode: 0o600 });
    await assert.rejects(provider.startupCheck(), (error: unknown) => {
      assert.ok(error instanceof UsersFileError);
      assert.match(error.message, new RegExp(`^users file ${path}: yaml: `));
      return true;
    });
    await provider.close();
  });

  it('a file removed since: an error saying it does not exist and how to make one', async () => {
    await openFresh();
    await rm(path);
    await assert.rejects(provider.startupCheck(), {
      name: 'UsersFileError',
      message: `users file ${path}: cannot read the file (ENOENT); it does not exist: create it with \`gatehouse users add NAME\``,
    });
    await provider.close();
  });

  it('a directory where the file should be: an error saying so', async () => {
    await openFresh();
    await rm(path);
    await mkdir(path);
    await assert.rejects(provider.startupCheck(), {
      name: 'UsersFileError',
      message: `users file ${path}: cannot read the file (EISDIR); the path names a directory: give the path of the users file itself`,
    });
    await provider.close();
  });

  it('a file Gatehouse may not read: an error naming the user it runs as (checked without root, which reads anything)', () => {
    const denied = Object.assign(new Error('permission denied'), { code: 'EACCES' });
    const error = unreadableUsersFile('/etc/gatehouse/users.yml', denied);
    assert.equal(
      error.message,
      `users file /etc/gatehouse/users.yml: cannot read the file (EACCES); Gatehouse (uid ${process.getuid!()}) may not read it: make it owned by that user, mode 600`,
    );
    assert.equal(error.cause, denied);
  });

  it('the same errors stop open() itself, where the file is first read', async () => {
    await rm(path, { recursive: true, force: true });
    await mkdir(path);
    await assert.rejects(FileUserProvider.open({ path, watch: false, logger: captureLogs().logger }), {
      name: 'UsersFileError',
      message: /cannot read the file \(EISDIR\)/,
    });
  });
});

describe('the users file must be a regular file: a FIFO or a device at its path is refused at once, never waited on', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let fifo: string;
  before(async () => {
    ({ dir, cleanup } = await makeTempDir());
    fifo = join(dir, 'users.yml');
  });
  after(async () => {
    // a read stuck opening the FIFO (nothing refused it) is let go: a writer comes and leaves
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: nobody is reading it
    }
    await cleanup();
  });
  const notAFile = (path: string, kind: string) => ({
    name: 'UsersFileError',
    code: 'users_file_invalid',
    message: `users file ${path}: cannot read the file: it is ${kind}, not a regular file; give the path of the users file itself`,
  });

  it('open(), with or without creating a missing file, and startupCheck() and reload() once the file became a FIFO', { timeout: 10_000 }, async () => {
    const started = Date.now();
    await writeFile(fifo, validText, { mode: 0o600 });
    const provider = await FileUserProvider.open({ path: fifo, watch: false, logger: captureLogs().logger, password: { algorithm: 'argon2', argon2: FAST_ARGON2 } });
    await rm(fifo);
    execFileSync('mkfifo', ['-m', '600', fifo]);

    await assert.rejects(provider.startupCheck(), notAFile(fifo, 'a FIFO (named pipe)'));
    const reloaded = await provider.reload();
    assert.equal(reloaded.status, 'rejected');
    assert.equal(reloaded.status === 'rejected' && reloaded.error.message, notAFile(fifo, 'a FIFO (named pipe)').message);
    assert.equal(await provider.resolveLogin('alice'), 'alice', 'the users loaded before are kept');
    await provider.close();
    for (const create of [true, false]) {
      await assert.rejects(FileUserProvider.open({ path: fifo, watch: false, create, logger: captureLogs().logger }), notAFile(fifo, 'a FIFO (named pipe)'));
    }
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  });

  it('a character device (/dev/null reads as an empty file, /dev/zero never ends): refused by what it is', async () => {
    for (const path of ['/dev/null', '/dev/zero']) {
      await assert.rejects(FileUserProvider.open({ path, watch: false, create: false, logger: captureLogs().logger }), notAFile(path, 'a character device'));
    }
  });
});
