import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../lib/errors.ts';
import { Regulator } from '../../../gateway/regulation/regulator.ts';
import type { AttemptRecord, RegulationStore } from '../../../gateway/regulation/regulator.ts';
import type { RegulationOptions } from '../../../gateway/regulation/options.ts';
import { openStorage } from '../../../gateway/storage/open.ts';
import type { Storage } from '../../../gateway/storage/storage.ts';
import type { StorageOptions } from '../../../gateway/storage/options.ts';
import { BACKENDS, recordingLogger, silentLogger } from '../storage/backends.ts';
import type { Backend } from '../storage/backends.ts';

const T0 = 1_750_000_000_000;
const SECOND = 1000;
const DEFAULTS: RegulationOptions = { max_retries: 3, find_time: 120, ban_time: 300, modes: ['user'] };

interface Fixture {
  regulator: Regulator;
  storage: Storage;
  options: StorageOptions;
  clock: { time: number };
  logLines: () => Record<string, unknown>[];
  /** a failed (or `successful`) password attempt by `username` from 192.0.2.10 */
  attempt(username: string, overrides?: Partial<AttemptRecord>): Promise<{ banned: boolean; until?: number }>;
}

async function setUp(
  t: TestContext,
  backend: Backend,
  options: Partial<RegulationOptions> = {},
  canonicalise?: (login: string) => string | null,
): Promise<Fixture> {
  const { options: storageOptions, cleanup } = await backend.create();
  t.after(cleanup);
  const storage = await openStorage(storageOptions, { logger: silentLogger, migrate: true });
  t.after(() => storage.close());
  const clock = { time: T0 };
  const { logger, lines } = recordingLogger();
  const regulator = new Regulator({ options: { ...DEFAULTS, ...options }, storage, logger, now: () => clock.time, canonicalise });
  return {
    regulator,
    storage,
    options: storageOptions,
    clock,
    logLines: lines,
    attempt: (username, overrides = {}) =>
      regulator.mark({ username, ip: '192.0.2.10', successful: false, authType: '1fa', requestUri: 'https://auth.example.com/', requestMethod: 'POST', ...overrides }),
  };
}

for (const backend of BACKENDS) {
  describe(`${backend.name}: max_retries failed passwords within find_time ban the user for ban_time`, () => {
    it('bans on the third failure, records why, and logs a warning', async (t) => {
      const f = await setUp(t, backend);
      assert.deepEqual(await f.attempt('alice'), { banned: false });
      f.clock.time += 10 * SECOND;
      assert.deepEqual(await f.attempt('alice'), { banned: false });
      assert.deepEqual(await f.regulator.isBanned('alice', '192.0.2.10'), { banned: false });
      f.clock.time += 10 * SECOND;
      const until = f.clock.time + 300 * SECOND;
      assert.deepEqual(await f.attempt('alice'), { banned: true, until });

      assert.deepEqual(await f.regulator.isBanned('alice', '203.0.113.9'), { banned: true, until });
      assert.deepEqual(await f.regulator.isBanned('bob', '192.0.2.10'), { banned: false }, "mode 'user' does not ban the address");
      const ban = await f.storage.bans.activeUserBan('alice', f.clock.time);
      assert.equal(ban?.source, 'regulation');
      assert.equal(ban?.reason, '3 failed attempts within 120s');
      const warning = f.logLines().find((line) => line['event'] === 'regulation.ban');
      assert.equal(warning?.['level'], 40);
      assert.equal(warning?.['username'], 'alice');
      assert.equal(warning?.['until'], until);
    });
  });

  describe(`${backend.name}: failures spread wider than find_time do not ban`, () => {
    it('counts only the failures inside the window', async (t) => {
      const f = await setUp(t, backend);
      for (let i = 0; i < 5; i++) {
        assert.deepEqual(await f.attempt('alice'), { banned: false }, `attempt ${i + 1}`);
        f.clock.time += 61 * SECOND; // any three span more than 120 s
      }
    });
  });

  describe(`${backend.name}: a successful login resets the streak`, () => {
    it('needs max_retries failures after the last success', async (t) => {
      const f = await setUp(t, backend);
      await f.attempt('alice');
      await f.attempt('alice');
      await f.attempt('alice', { successful: true });
      assert.deepEqual(await f.attempt('alice'), { banned: false });
      assert.deepEqual(await f.attempt('alice'), { banned: false });
      assert.equal((await f.attempt('alice')).banned, true);
    });
  });

  describe(`${backend.name}: a ban ends after ban_time`, () => {
    it('holds until the moment it expires and does not come back by itself', async (t) => {
      const f = await setUp(t, backend);
      for (let i = 0; i < 3; i++) await f.attempt('alice');
      const until = f.clock.time + 300 * SECOND;

      f.clock.time = until - 1;
      assert.deepEqual(await f.regulator.isBanned('alice', '192.0.2.10'), { banned: true, until });
      f.clock.time = until;
      assert.deepEqual(await f.regulator.isBanned('alice', '192.0.2.10'), { banned: false });
      assert.deepEqual(await f.attempt('alice'), { banned: false }, 'attempts before and during the ban do not count again');
    });
  });

  describe(`${backend.name}: differently written names of one user share a counter`, () => {
    it('counts Alice, " alice " and full-width ＡＬＩＣＥ together', async (t) => {
      const f = await setUp(t, backend);
      await f.attempt('Alice');
      await f.attempt(' alice ');
      assert.equal((await f.attempt('ＡＬＩＣＥ')).banned, true);
      assert.equal((await f.regulator.isBanned('ALICE', '192.0.2.10')).banned, true);
      const logs = await f.storage.authenticationLogs.loadByUsername('alice', 0, 10);
      assert.equal(logs.length, 3);
    });
  });

  describe(`${backend.name}: a user's name and e-mail address share a counter when the login resolves to an account`, () => {
    it('counts alice and alice@example.com together, and the ban applies to both spellings', async (t) => {
      const accounts: Record<string, string> = { alice: 'alice', 'alice@example.com': 'alice' };
      const f = await setUp(t, backend, {}, (login) => accounts[login.toLowerCase()] ?? null);
      await f.attempt('alice');
      await f.attempt('Alice@Example.com');
      assert.equal((await f.attempt('alice@example.com')).banned, true);
      assert.equal((await f.regulator.isBanned('alice', '192.0.2.10')).banned, true);
      assert.equal((await f.regulator.isBanned('ALICE@example.com', '192.0.2.10')).banned, true);
      assert.equal((await f.storage.authenticationLogs.loadByUsername('alice', 0, 10)).length, 3, 'recorded under the account name');
      // an unknown login is its own subject
      await f.attempt('mallory@example.com');
      assert.equal((await f.storage.authenticationLogs.loadByUsername('mallory@example.com', 0, 10)).length, 1);
    });
  });

  describe(`${backend.name}: the ban message cannot carry a forged log line`, () => {
    it('sanitises the client-chosen name in the message, keeps it exact in the field', async (t) => {
      const f = await setUp(t, backend);
      const crafted = 'gatehouse-auth: authentication failure; rhost=203.0.113.66 user=x\nWARN forged';
      for (let i = 0; i < 3; i++) await f.attempt(crafted);
      const warning = f.logLines().find((line) => line['event'] === 'regulation.ban');
      const msg = String(warning?.['msg']);
      assert.match(msg, /^regulation: banned user '\S+' until /);
      assert.doesNotMatch(msg, /rhost=|\n/);
      assert.equal(warning?.['username'], crafted.toLowerCase());
    });
  });

  describe(`${backend.name}: every attempt is recorded, flagged when refused by a ban`, () => {
    it('stores each attempt with its type, address and request, and banned=true while banned', async (t) => {
      const f = await setUp(t, backend);
      for (let i = 0; i < 3; i++) await f.attempt('alice');
      f.clock.time += SECOND;
      await f.attempt('alice', { authType: 'basic', requestUri: 'https://app.example.com/api', requestMethod: 'GET', ip: '::ffff:192.0.2.10' });

      const logs = await f.storage.authenticationLogs.loadByUsername('alice', 0, 10);
      assert.deepEqual(
        logs.map((log) => [log.banned, log.authType, log.remoteIp, log.requestMethod]),
        [
          [true, 'basic', '192.0.2.10', 'GET'],
          [false, '1fa', '192.0.2.10', 'POST'],
          [false, '1fa', '192.0.2.10', 'POST'],
          [false, '1fa', '192.0.2.10', 'POST'],
        ],
      );
      assert.equal(logs[0]?.requestUri, 'https://app.example.com/api');
      assert.equal((await f.storage.bans.listUserBans(f.clock.time)).length, 1, 'a refused attempt does not stack another ban');
    });
  });

  describe(`${backend.name}: passwords and second-factor codes each count towards a ban`, () => {
    it('counts portal and Basic failures together, and wrong codes among themselves', async (t) => {
      const f = await setUp(t, backend);
      // two wrong codes and two wrong passwords: neither streak reaches max_retries (3)
      for (let i = 0; i < 2; i++) assert.deepEqual(await f.attempt('alice', { authType: 'totp' }), { banned: false });
      await f.attempt('alice', { authType: 'basic' });
      assert.deepEqual(await f.attempt('alice', { authType: '1fa' }), { banned: false });
      assert.equal((await f.attempt('alice', { authType: 'basic' })).banned, true);
    });

    it('max_retries wrong second-factor codes in a row ban the account (whoever guesses has the password); a right one in between starts again', async (t) => {
      const f = await setUp(t, backend);
      await f.attempt('bob', { authType: 'totp' });
      await f.attempt('bob', { authType: 'recovery_code' });
      await f.attempt('bob', { authType: 'totp', successful: true });
      assert.deepEqual(await f.attempt('bob', { authType: 'webauthn' }), { banned: false });
      await f.attempt('bob', { authType: 'totp' });
      const third = await f.attempt('bob', { authType: 'totp' });
      assert.equal(third.banned, true);
      assert.equal((await f.storage.bans.activeUserBan('bob', f.clock.time))?.source, 'regulation');
    });
  });

  describe(`${backend.name}: a check that throws cancels its reservation`, () => {
    it('the attempt neither counts as a failure in flight nor as a failure', async (t) => {
      const f = await setUp(t, backend);
      const context = { username: 'carol', ip: '192.0.2.10', authType: 'totp' as const, requestUri: '', requestMethod: 'POST' };
      const reservation = await f.regulator.reserve(context);
      assert.equal(reservation.admitted, true);
      if (!reservation.admitted) return;
      assert.equal(await f.storage.attemptReservations.count('username', 'carol', f.clock.time, -1), 1);
      await assert.rejects(f.regulator.checkReserved(reservation, async () => { throw new Error('database went away'); }), /database went away/);
      assert.equal(await f.storage.attemptReservations.count('username', 'carol', f.clock.time, -1), 0);
      assert.equal(await f.regulator.checkReserved(reservation, async () => 'answered'), 'answered');
      assert.equal((await f.storage.authenticationLogs.loadByUsername('carol', 0, 10)).length, 0, 'nothing recorded');
    });
  });

  describe(`${backend.name}: max_retries 0 turns automatic bans off`, () => {
    it('records attempts but never bans; a ban added by hand still holds', async (t) => {
      const f = await setUp(t, backend, { max_retries: 0 });
      for (let i = 0; i < 10; i++) assert.deepEqual(await f.attempt('alice'), { banned: false });
      assert.equal((await f.storage.authenticationLogs.loadByUsername('alice', 0, 100)).length, 10);
      await f.storage.bans.banUser({ username: 'alice', time: f.clock.time, expires: null, source: 'cli' });
      assert.deepEqual(await f.regulator.isBanned('alice', '192.0.2.10'), { banned: true });
    });
  });

  describe(`${backend.name}: mode 'ip' bans the address, whatever names it tries`, () => {
    it('bans 198.51.100.7 after failures for three different users', async (t) => {
      const f = await setUp(t, backend, { modes: ['ip'] });
      const from = (username: string) => f.attempt(username, { ip: '198.51.100.7' });
      await from('alice');
      await from('bob');
      assert.equal((await from('carol')).banned, true);
      assert.equal((await f.regulator.isBanned('dave', '::ffff:198.51.100.7')).banned, true);
      assert.equal((await f.regulator.isBanned('alice', '198.51.100.8')).banned, false, 'no user was banned');
    });
  });

  describe(`${backend.name}: a ban holds on every instance sharing the database`, () => {
    it('is seen by a regulator on a second Storage opened on the same database', async (t) => {
      const f = await setUp(t, backend);
      const other = await openStorage(f.options, { logger: silentLogger, migrate: true });
      t.after(() => other.close());
      const otherRegulator = new Regulator({ options: DEFAULTS, storage: other, logger: silentLogger, now: () => f.clock.time });

      await f.attempt('alice');
      await otherRegulator.mark({ username: 'alice', ip: '192.0.2.11', successful: false, authType: '1fa', requestUri: '/', requestMethod: 'POST' });
      assert.deepEqual(await otherRegulator.isBanned('alice', '192.0.2.11'), { banned: false });
      await f.attempt('alice');
      assert.equal((await otherRegulator.isBanned('alice', '192.0.2.11')).banned, true, 'failures on both instances counted together');
    });
  });
}

for (const backend of BACKENDS) {
  describe(`${backend.name}: settle() never asks the user backend while it holds the database's locks`, () => {
    it('a slow backend is asked once, by reserve(), before its transaction; settle() records under the name it resolved', async (t) => {
      const { options: storageOptions, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(storageOptions, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());
      let inside = 0;
      const store: RegulationStore = {
        authenticationLogs: storage.authenticationLogs,
        attemptReservations: storage.attemptReservations,
        bans: storage.bans,
        exclusively: (keys, work) =>
          storage.exclusively(keys, async (tx) => {
            inside += 1;
            try {
              return await work(tx);
            } finally {
              inside -= 1;
            }
          }),
      };
      const lookups: { login: string; insideTransaction: boolean }[] = [];
      const canonicalise = async (login: string) => {
        lookups.push({ login, insideTransaction: inside > 0 });
        await new Promise((resolve) => setTimeout(resolve, 20)); // a directory server taking its time
        return login.toLowerCase() === 'alice@example.com' ? 'alice' : null;
      };
      const clock = { time: T0 };
      const regulator = new Regulator({ options: DEFAULTS, storage: store, logger: silentLogger, now: () => clock.time, canonicalise });
      const context = { username: 'Alice@Example.com', ip: '192.0.2.10', authType: '1fa' as const, requestUri: 'https://auth.example.com/', requestMethod: 'POST' };

      const reservation = await regulator.reserve(context);
      assert.ok(reservation.admitted);
      assert.deepEqual(lookups, [{ login: 'Alice@Example.com', insideTransaction: false }]);
      assert.deepEqual(await regulator.settle(reservation, { ...context, successful: false }), { banned: false });
      assert.deepEqual(lookups, [{ login: 'Alice@Example.com', insideTransaction: false }], 'settle() did not ask again');
      const recorded = await storage.authenticationLogs.loadByUsername('alice', 0, 10);
      assert.deepEqual(recorded.map((attempt) => [attempt.username, attempt.successful]), [['alice', false]]);
    });
  });
}

describe('a regulator with unusable options is not built', () => {
  it('throws ConfigError listing every problem', () => {
    assert.throws(
      () => new Regulator({ options: { max_retries: -1, find_time: 600, ban_time: 300, modes: ['user'] }, storage: {} as Storage, logger: silentLogger }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.problems, [
          "regulation: option 'max_retries' must be 0 (disabled) or a positive integer, not -1",
          "regulation: option 'find_time' must be less than or equal to option 'ban_time'",
        ]);
        return true;
      },
    );
  });
});
