import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { CliIO } from '../../../lib/cli-io.ts';
import { runUsers } from '../../../gateway/users/cli.ts';
import { openStorage } from '../../../gateway/storage/open.ts';
import type { StorageOptions } from '../../../gateway/storage/options.ts';
import type { Storage } from '../../../gateway/storage/storage.ts';
import { BACKENDS, silentLogger } from '../storage/backends.ts';
import { makeTempDir } from '../../helpers/tmp.ts';

const FAST_ARGON2 = { iterations: 1, memory: 1024, parallelism: 1, key_length: 32, salt_length: 16 };
const T0 = Date.UTC(2026, 0, 1);
const SECRET = Buffer.from('12345678901234567890');

function fakeIO(stdinText = ''): { io: CliIO; out: () => string; err: () => string } {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  stdin.end(stdinText);
  return { io: { stdin, stdout, stderr, isTTY: false }, out: () => out, err: () => err };
}

interface Fixture {
  path: string;
  storage: Storage;
  subject: string;
  handle: Buffer;
  run(args: string[], options?: { search?: { email: boolean; case_insensitive: boolean }; beforeStorage?: () => Promise<void> }): Promise<{ code: number; out: string; err: string }>;
}

/** A users file with alice and bob (bob@example.com); alice has a subject, a consent, TOTP, a security key, recovery codes, a ban, a session. */
async function fixture(options: StorageOptions, t: { after(fn: () => Promise<void>): void }): Promise<Fixture> {
  const temp = await makeTempDir('gatehouse-rename-');
  t.after(temp.cleanup);
  const path = join(temp.dir, 'users.yml');
  const storage = await openStorage(options, { logger: silentLogger, migrate: true });
  t.after(() => storage.close());
  const run: Fixture['run'] = async (args, extra = {}) => {
    const f = fakeIO(args.includes('--password-stdin') ? 'a-long-password-1\n' : '');
    const code = await runUsers(args, f.io, {
      path,
      argon2: FAST_ARGON2,
      ...(extra.search ? { search: extra.search } : {}),
      now: () => T0 + 1000,
      storage: async () => {
        await extra.beforeStorage?.();
        return openStorage(options, { logger: silentLogger, migrate: false });
      },
    });
    return { code, out: f.out(), err: f.err() };
  };
  assert.equal((await run(['add', 'alice', '--email', 'alice@example.com', '--group', 'admins', '--password-stdin'])).code, 0);
  assert.equal((await run(['add', 'bob', '--email', 'bob@example.com', '--password-stdin'])).code, 0);
  const subject = await storage.oidc.subjectFor('alice', T0);
  await storage.oidc.recordConsent({ username: 'alice', clientId: 'wiki', scopes: ['openid', 'profile'], claims: [], grantedAt: T0, expiresAt: null });
  await storage.totp.save({ username: 'alice', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret: SECRET, createdAt: T0 });
  const handle = await storage.webauthn.userHandle('alice');
  await storage.webauthn.add({
    username: 'alice', description: 'yubikey', kid: 'kid-1', aaguid: null, attestationType: 'none', attachment: 'cross-platform', transports: ['usb'],
    signCount: 0, discoverable: false, present: true, verified: true, backupEligible: false, backupState: false, publicKey: Buffer.from('public-key'), createdAt: T0,
  });
  await storage.recoveryCodes.replace('alice', ['AAAA-BBBB-CC'], T0);
  await storage.preferences.setSecondFactorMethod('alice', 'webauthn');
  await storage.bans.banUser({ username: 'alice', time: T0, expires: null, source: 'cli' });
  await storage.userSessions.add({ sessionId: 'session-of-alice', username: 'alice', nowMs: T0, remoteIp: '192.0.2.1', userAgent: 'test' });
  return { path, storage, subject, handle, run };
}

async function usersIn(path: string): Promise<Record<string, { password: string; email?: string; groups?: string[] }>> {
  return (parse(await readFile(path, 'utf8')) as { users: Record<string, { password: string }> }).users;
}

/** What a refused rename must leave as it was. */
async function snapshot(f: Fixture) {
  return {
    file: await readFile(f.path, 'utf8'),
    subject: await f.storage.oidc.usernameForSubject(f.subject, { fresh: true }),
    totp: (await f.storage.totp.load('alice'))?.secret.toString('hex'),
    consents: (await f.storage.oidc.listConsents('alice', T0)).length,
    keys: (await f.storage.webauthn.list('alice')).length,
    codes: await f.storage.recoveryCodes.remaining('alice'),
    sessions: (await f.storage.userSessions.listByUser('alice')).length,
  };
}

describe('gatehouse users rename --help', () => {
  it('says what moves, what ends and what is deleted, and is listed by gatehouse users --help', async () => {
    const help = fakeIO();
    assert.equal(await runUsers(['rename', '--help'], help.io, { path: '', argon2: FAST_ARGON2 }), 0);
    assert.match(help.out(), /Usage: gatehouse users rename OLD NEW \[--storage-only\]/);
    assert.match(help.out(), /recovery codes are deleted/);
    const list = fakeIO();
    assert.equal(await runUsers(['--help'], list.io, { path: '', argon2: FAST_ARGON2 }), 0);
    assert.match(list.out(), /rename OLD NEW/);
  });
});

for (const backend of BACKENDS) {
  describe(`${backend.name}: gatehouse users rename moves the user and keeps their OpenID Connect subject`, () => {
    it('rename alice alicia: same hash and groups in the file; subject, consents, TOTP, keys, ban moved and still decrypt', async (t) => {
      const db = await backend.create();
      t.after(db.cleanup);
      const f = await fixture(db.options, t);
      const before = (await usersIn(f.path))['alice']!;

      const result = await f.run(['rename', 'alice', 'alicia']);
      assert.equal(result.code, 0, result.err);
      assert.match(result.out, /renamed user 'alice' to 'alicia'/);
      assert.match(result.out, /deleted 1 recovery code/);
      assert.match(result.out, /ended 1 signed-in session/);

      const users = await usersIn(f.path);
      assert.equal(users['alice'], undefined);
      assert.deepEqual(users['alicia'], before);
      assert.deepEqual(Object.keys(users), ['alicia', 'bob']);

      assert.equal(await f.storage.oidc.subjectFor('alicia', T0 + 2000), f.subject);
      assert.equal(await f.storage.oidc.usernameForSubject(f.subject, { fresh: true }), 'alicia');
      assert.equal((await f.storage.oidc.findConsent('alicia', 'wiki', T0 + 2000))?.clientId, 'wiki');
      assert.equal(await f.storage.oidc.findConsent('alice', 'wiki', T0 + 2000), undefined);
      assert.deepEqual((await f.storage.totp.load('alicia'))?.secret, SECRET);
      assert.equal(await f.storage.totp.load('alice'), undefined);
      assert.deepEqual((await f.storage.webauthn.list('alicia')).map((c) => c.kid), ['kid-1']);
      assert.deepEqual(await f.storage.webauthn.userHandle('alicia'), f.handle);
      assert.equal(await f.storage.webauthn.usernameByHandle(f.handle), 'alicia');
      assert.equal(await f.storage.preferences.getSecondFactorMethod('alicia'), 'webauthn');
      assert.notEqual(await f.storage.bans.activeUserBan('alicia', T0 + 2000), undefined);
      assert.equal(await f.storage.bans.activeUserBan('alice', T0 + 2000), undefined);
      assert.equal(await f.storage.recoveryCodes.remaining('alicia'), 0);
      assert.deepEqual(await f.storage.userSessions.listByUser('alice'), []);
      for (const column of await f.storage.encryption.checkValues()) assert.equal(column.failed, 0, column.name);
      // a user added as alice later is somebody else
      assert.notEqual(await f.storage.oidc.subjectFor('alice', T0 + 3000), f.subject);
    });

    it('refuses a NEW that exists (in any case, or as an e-mail), an OLD that does not, a former user\'s rows; nothing changes', async (t) => {
      const db = await backend.create();
      t.after(db.cleanup);
      const f = await fixture(db.options, t);
      await f.storage.totp.save({ username: 'carol', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret: SECRET, createdAt: T0 });
      const before = await snapshot(f);
      const cases: Array<[string[], number, RegExp, { email: boolean; case_insensitive: boolean }?]> = [
        [['rename', 'alice', 'bob'], 1, /user 'bob' already exists; nothing was changed/],
        [['rename', 'alice', 'BOB'], 1, /user 'bob' already exists/],
        [['rename', 'alice', 'bob@example.com'], 1, /'bob@example.com' is the e-mail of user 'bob'/, { email: true, case_insensitive: false }],
        [['rename', 'nobody', 'someone'], 1, /user 'nobody' does not exist; see 'gatehouse users list'/],
        [['rename', 'alice', 'carol'], 1, /rows of a former user 'carol' \(totp_configurations\)/],
        [['rename', 'alice', 'bad name'], 2, /invalid username 'bad name'/],
        [['rename', 'alice'], 2, /rename needs OLD and NEW/],
        [['rename', 'alice', 'alice'], 1, /user 'alice' has that name already; nothing was changed/],
      ];
      for (const [args, code, message, search] of cases) {
        const result = await f.run(args, search ? { search } : {});
        assert.equal(result.code, code, args.join(' '));
        assert.match(result.err, message);
        assert.deepEqual(await snapshot(f), before, args.join(' '));
      }
    });

    it('a users file changed meanwhile (NEW added by someone else): the database move is rolled back', async (t) => {
      const db = await backend.create();
      t.after(db.cleanup);
      const f = await fixture(db.options, t);
      const before = await snapshot(f);
      const result = await f.run(['rename', 'alice', 'alicia'], {
        // after the command's own checks, before its transaction: another administrator adds alicia
        beforeStorage: async () => {
          assert.equal((await f.run(['add', 'alicia', '--password-stdin'])).code, 0);
        },
      });
      assert.equal(result.code, 1);
      assert.match(result.err, /user 'alicia' already exists/);
      const after = await snapshot(f);
      assert.deepEqual({ ...after, file: undefined }, { ...before, file: undefined });
      assert.equal(await f.storage.oidc.usernameForSubject(f.subject, { fresh: true }), 'alice');
    });

    it('a file renamed without the database move: the command says to finish with --storage-only, which does', async (t) => {
      const db = await backend.create();
      t.after(db.cleanup);
      const f = await fixture(db.options, t);
      // as a crash between the users file's rename and the commit would leave it
      const text = (await readFile(f.path, 'utf8')).replace(/^ {2}alice:/m, '  alicia:');
      await (await import('node:fs/promises')).writeFile(f.path, text);

      const again = await f.run(['rename', 'alice', 'alicia']);
      assert.equal(again.code, 1);
      assert.match(again.err, /run 'gatehouse users rename alice alicia --storage-only'/);
      const absent = await f.run(['rename', 'alice', 'carol', '--storage-only']);
      assert.equal(absent.code, 1);
      assert.match(absent.err, /the users file must name 'carol' already; nothing was changed/);
      // a NEW who has an identity of their own is never merged into
      await f.storage.oidc.subjectFor('bob', T0);
      const taken = await f.run(['rename', 'alice', 'bob', '--storage-only']);
      assert.equal(taken.code, 1);
      assert.match(taken.err, /rows of a former user 'bob' \(oidc_subjects\)/);

      const finish = await f.run(['rename', 'alice', 'alicia', '--storage-only']);
      assert.equal(finish.code, 0, finish.err);
      assert.match(finish.out, /moved the database rows of 'alice' to 'alicia'/);
      assert.equal(await f.storage.oidc.subjectFor('alicia', T0), f.subject);
      assert.deepEqual((await f.storage.totp.load('alicia'))?.secret, SECRET);
      assert.equal(await readFile(f.path, 'utf8'), text);
    });
  });

  describe(`${backend.name}: gatehouse users add under a former user's name starts afresh`, () => {
    it("the former user's subject, consents and second factors are forgotten; another user's are not", async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const f = await fixture(options, t);
      assert.equal((await f.run(['delete', 'alice'])).code, 0);
      const added = await f.run(['add', 'alice', '--password-stdin']);
      assert.equal(added.code, 0, added.err);
      assert.match(added.out, /the database held what a former user named 'alice' left \(.*oidc_subjects.*\): forgotten/);
      assert.equal(await f.storage.oidc.existingSubject('alice'), undefined);
      assert.notEqual(await f.storage.oidc.subjectFor('alice', T0), f.subject, 'the new alice is a new subject to every app');
      assert.equal(await f.storage.totp.load('alice'), undefined);
      assert.deepEqual(await f.storage.oidc.listConsents('alice', T0), []);
      const bob = await f.storage.oidc.subjectFor('bob', T0);
      assert.equal((await f.run(['add', 'carol', '--password-stdin'])).out.includes('former'), false, 'nothing said when there was nobody before');
      assert.equal(await f.storage.oidc.existingSubject('bob'), bob);
    });
  });
}
