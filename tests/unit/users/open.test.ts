// users/open.ts builds the user backend the configuration names, behind the details cache: the rest of
// the gateway sees UserProvider (and UserAdmin for the users file), never the file provider itself.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { ConfigError } from '../../../lib/errors.ts';
import { hashPassword } from '../../../lib/password-hash.ts';
import { parseGatewayConfig } from '../../../gateway/config/load.ts';
import { UsersFileError } from '../../../gateway/users/errors.ts';
import { openUsers, refreshInterval, type AuthenticationBackendOptions, type OpenedUsers } from '../../../gateway/users/open.ts';
import { makeTempDir } from '../../helpers/tmp.ts';

const FAST_ARGON2 = { iterations: 1, memory: 1024, parallelism: 1, key_length: 32, salt_length: 16 };
const HOUR = 3600;

let hashes: Record<string, string>;
before(async () => {
  hashes = { alice: await hashPassword('alice-password', FAST_ARGON2), bob: await hashPassword('bob-password', FAST_ARGON2) };
});

function usersText(users: Record<string, { groups: string[]; disabled?: boolean }>): string {
  const entries = Object.fromEntries(Object.entries(users).map(([name, u]) => [name, { displayname: name, password: hashes[name], groups: u.groups, ...(u.disabled ? { disabled: true } : {}) }]));
  return stringify({ users: entries });
}

/** The authentication_backend section as the configuration loader leaves it. */
function backend(path: string, extra: Record<string, unknown> = {}): AuthenticationBackendOptions {
  const { config } = parseGatewayConfig({
    authentication_backend: { file: { path, password: { argon2: FAST_ARGON2 } }, ...extra },
    session: { cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }] },
    storage: { encryption_key: 'a-test-encryption-key-long-enough', local: { path: '/tmp/unused.sqlite3' } },
    access_control: { default_policy: 'one_factor' },
  });
  return config.authentication_backend;
}

describe('refresh_interval as the cache takes it (Authelia: a duration, always or disable)', () => {
  it('a duration in ms; always and 0: no cache; disable (and the older never): kept until a reload', () => {
    assert.equal(refreshInterval(backend('/x/users.yml').refresh_interval), 300_000, 'the default, 5m');
    assert.equal(refreshInterval(backend('/x/users.yml', { refresh_interval: '30s' }).refresh_interval), 30_000);
    assert.equal(refreshInterval(backend('/x/users.yml', { refresh_interval: 'always' }).refresh_interval), 'always');
    assert.equal(refreshInterval(backend('/x/users.yml', { refresh_interval: 0 }).refresh_interval), 'always');
    assert.equal(refreshInterval(backend('/x/users.yml', { refresh_interval: 'disable' }).refresh_interval), 'disable');
    assert.equal(refreshInterval(backend('/x/users.yml', { refresh_interval: 'never' }).refresh_interval), 'disable');
  });
});

describe('openUsers: the users file behind the cache', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let path: string;
  let opened: OpenedUsers;
  const clock = { time: 0 };
  before(async () => {
    ({ dir, cleanup } = await makeTempDir());
    path = join(dir, 'users.yml');
    await writeFile(path, usersText({ alice: { groups: ['admins', 'dev'] }, bob: { groups: ['dev'] } }), { mode: 0o600 });
    // an hour: every change seen below is seen because the provider said so, not because time passed
    opened = await openUsers(backend(path, { refresh_interval: HOUR }), { logger: pino({ level: 'silent' }), now: () => clock.time });
  });
  after(async () => {
    await opened.users.close();
    await cleanup();
  });

  it('answers through the UserProvider interface, at once for the forward-auth hot path', async () => {
    assert.deepEqual((await opened.users.getDetails('alice'))?.groups, ['admins', 'dev']);
    assert.deepEqual(opened.users.peekDetails?.('bob')?.groups, ['dev']);
    assert.equal(await opened.users.resolveLogin('alice'), 'alice');
    assert.equal((await opened.users.verifyPassword('alice', 'alice-password'))?.username, 'alice');
    assert.equal(await opened.users.verifyPassword('alice', 'bob-password'), null);
    await opened.users.startupCheck();
  });

  it('the users file is Gatehouse to edit: the admin lists every user', () => {
    assert.deepEqual(opened.admin?.listUsers().map((u) => u.username), ['alice', 'bob']);
  });

  it('an edit of the file, once reloaded (the watcher, SIGHUP), reaches the next request at once', async () => {
    await opened.users.getDetails('alice');
    await writeFile(`${path}.new`, usersText({ alice: { groups: ['dev'] }, bob: { groups: ['dev'], disabled: true } }), { mode: 0o600 });
    await rename(`${path}.new`, path);
    assert.equal((await opened.users.reload!()).status, 'loaded');
    assert.deepEqual((await opened.users.getDetails('alice'))?.groups, ['dev']);
    assert.equal(await opened.users.getDetails('bob'), null, 'disabled: gone at once');
  });

  it('an edit through the admin (setup, a deleted user) reaches the next request at once', async () => {
    await opened.admin!.addUser({ username: 'carol', password: 'carol-password', groups: ['ops'] });
    assert.deepEqual((await opened.users.getDetails('carol'))?.groups, ['ops']);
    await opened.admin!.deleteUser('carol');
    assert.equal(await opened.users.getDetails('carol'), null);
  });

  it("a new password is a new credential stamp at once: the user's older sessions end", async () => {
    const before = (await opened.users.getDetails('alice'))!.credentialStamp;
    await opened.users.updatePassword('alice', 'a new alice password');
    assert.notEqual((await opened.users.getDetails('alice'))!.credentialStamp, before);
    assert.equal((await opened.users.verifyPassword('alice', 'a new alice password'))?.username, 'alice');
  });
});

describe('openUsers: the file watcher clears the cache too', () => {
  it('a user removed from the file is refused once the watcher reloaded it, long before refresh_interval', async () => {
    const { dir, cleanup } = await makeTempDir();
    const path = join(dir, 'users.yml');
    await writeFile(path, usersText({ alice: { groups: ['dev'] }, bob: { groups: ['dev'] } }), { mode: 0o600 });
    const { users } = await openUsers(backend(path, { refresh_interval: HOUR }), { logger: pino({ level: 'silent' }), now: () => 0, watch: true });
    try {
      assert.equal((await users.getDetails('bob'))?.username, 'bob');
      await writeFile(`${path}.new`, usersText({ alice: { groups: ['dev'] } }), { mode: 0o600 });
      await rename(`${path}.new`, path);
      // the watcher's debounce is real time: wait for it, bounded
      for (let i = 0; i < 250 && users.peekDetails?.('bob') !== null; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(await users.getDetails('bob'), null);
    } finally {
      await users.close();
      await cleanup();
    }
  });
});

describe('openUsers: what it refuses', () => {
  it('no backend configured: a config error naming the option', async () => {
    const options = { ...backend('/x/users.yml'), file: undefined };
    await assert.rejects(openUsers(options, { logger: pino({ level: 'silent' }) }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /^config: authentication_backend\.file: is required/);
      return true;
    });
  });

  it('create: false and no users file: a UsersFileError saying so, and no file is made', async () => {
    const { dir, cleanup } = await makeTempDir();
    const path = join(dir, 'users.yml');
    await assert.rejects(openUsers(backend(path), { logger: pino({ level: 'silent' }), create: false }), (error: unknown) => {
      assert.ok(error instanceof UsersFileError);
      assert.equal(error.message, `users file ${path}: cannot read the file (ENOENT); it does not exist: create it with \`gatehouse users add NAME\``);
      return true;
    });
    await assert.rejects(import('node:fs/promises').then((fs) => fs.stat(path)), { code: 'ENOENT' });
    await cleanup();
  });
});

describe('authentication_backend.file.extra_attributes: users\' extra values are checked against the declared types (Authelia 4.39)', () => {
  const DECLARED = { extra_attributes: { employee_id: { value_type: 'integer' }, teams: { value_type: 'string', multi_valued: true }, contractor: { value_type: 'boolean' } } };

  async function openWith(extra: Record<string, unknown>, declared: Record<string, unknown>) {
    const { dir, cleanup } = await makeTempDir();
    const path = join(dir, 'users.yml');
    await writeFile(path, stringify({ users: { alice: { displayname: 'Alice', password: hashes.alice, extra } } }), { mode: 0o600 });
    const { config } = parseGatewayConfig({
      authentication_backend: { file: { path, password: { argon2: FAST_ARGON2 }, ...declared } },
      session: { cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }] },
      storage: { encryption_key: 'a-test-encryption-key-long-enough', local: { path: '/tmp/unused.sqlite3' } },
      access_control: { default_policy: 'one_factor' },
    });
    try {
      const opened = await openUsers(config.authentication_backend, { logger: pino({ level: 'silent' }) });
      try {
        return await opened.users.getDetails('alice');
      } finally {
        await opened.users.close();
      }
    } finally {
      await cleanup();
    }
  }

  it('values of the declared types load', async () => {
    const details = await openWith({ employee_id: 42, teams: ['red', 'white'], contractor: false }, DECLARED);
    assert.deepEqual(details?.attributes?.extra, { employee_id: 42, teams: ['red', 'white'], contractor: false });
  });

  it('an undeclared name, a wrong type, a single value where a list is declared: the file is refused, each named', async () => {
    await assert.rejects(openWith({ employee_id: '42', teams: 'red', contractor: true, shoe_size: 44 }, DECLARED), (error: unknown) => {
      assert.ok(error instanceof UsersFileError);
      assert.match(error.message, /users\.alice\.extra\.employee_id: must be an integer \(extra_attributes declares it so\), not a string/);
      assert.match(error.message, /users\.alice\.extra\.teams: must be a list of string values \(extra_attributes declares it so\), not a string/);
      assert.match(error.message, /users\.alice\.extra\.shoe_size: is not declared in authentication_backend\.file\.extra_attributes/);
      assert.doesNotMatch(error.message, /contractor/);
      return true;
    });
  });

  it('nothing declared: extra is read as written (as before)', async () => {
    const details = await openWith({ shoe_size: 44 }, {});
    assert.deepEqual(details?.attributes?.extra, { shoe_size: 44 });
  });
});
