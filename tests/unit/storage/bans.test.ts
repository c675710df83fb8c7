import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage } from '../../../gateway/storage/open.ts';
import { BACKENDS, rawQuery, silentLogger } from './backends.ts';

const T0 = 1_750_000_000_000;
const MINUTE = 60_000;

for (const backend of BACKENDS) {
  describe(`${backend.name}: user bans are stored, hold until they expire, and can be revoked`, () => {
    it('round-trips a ban with its JS types and finds it only while it is in force', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());

      const ban = await storage.bans.banUser({ username: 'alice', time: T0, expires: T0 + 5 * MINUTE, source: 'regulation', reason: '3 failed attempts' });
      assert.equal(typeof ban.id, 'number');
      assert.deepEqual({ ...ban, id: 0 }, {
        id: 0, time: T0, expires: T0 + 5 * MINUTE, expired: null, revoked: false, username: 'alice', source: 'regulation', reason: '3 failed attempts',
      });

      assert.deepEqual(await storage.bans.activeUserBan('alice', T0 + MINUTE), ban);
      assert.equal(await storage.bans.activeUserBan('alice', T0 + 5 * MINUTE), undefined, 'expired at `expires`');
      assert.equal(await storage.bans.activeUserBan('bob', T0 + MINUTE), undefined);
      assert.deepEqual(await storage.bans.listUserBans(T0 + MINUTE), [ban]);
      assert.deepEqual(await storage.bans.listUserBans(T0 + 6 * MINUTE), []);
    });

    it('prefers the longest of several bans; a ban without expiry lasts until revoked', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());

      await storage.bans.banUser({ username: 'alice', time: T0, expires: T0 + 10 * MINUTE, source: 'regulation' });
      await storage.bans.banUser({ username: 'alice', time: T0 + MINUTE, expires: T0 + 5 * MINUTE, source: 'regulation' });
      assert.equal((await storage.bans.activeUserBan('alice', T0 + 2 * MINUTE))?.expires, T0 + 10 * MINUTE);

      const forever = await storage.bans.banUser({ username: 'alice', time: T0 + 2 * MINUTE, expires: null, source: 'cli' });
      assert.equal(forever.reason, null);
      assert.deepEqual(await storage.bans.activeUserBan('alice', T0 + 1000 * MINUTE), forever);

      assert.equal(await storage.bans.revokeUserBan('alice', T0 + 3 * MINUTE), 3);
      assert.equal(await storage.bans.activeUserBan('alice', T0 + 3 * MINUTE), undefined);
      assert.equal(await storage.bans.revokeUserBan('alice', T0 + 4 * MINUTE), 0, 'nothing left to revoke');
      const rows = await rawQuery(options, 'select revoked, expired from banned_user');
      assert.equal(rows.length, 3, 'revoked bans stay on record');
      for (const row of rows) {
        assert.ok(row['revoked'] === true || row['revoked'] === 1);
        // read beside Gatehouse: the driver hands PostgreSQL's bigint over as a string
        assert.equal(Number(row['expired']), T0 + 3 * MINUTE);
      }
    });
  });

  describe(`${backend.name}: IP bans behave like user bans`, () => {
    it('bans, finds, lists and revokes by address', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());

      const ban = await storage.bans.banIp({ ip: '198.51.100.7', time: T0, expires: T0 + MINUTE, source: 'regulation', reason: 'r' });
      assert.deepEqual({ ...ban, id: 0 }, { id: 0, time: T0, expires: T0 + MINUTE, expired: null, revoked: false, ip: '198.51.100.7', source: 'regulation', reason: 'r' });
      assert.deepEqual(await storage.bans.activeIpBan('198.51.100.7', T0), ban);
      assert.equal(await storage.bans.activeIpBan('198.51.100.8', T0), undefined);
      assert.equal(await storage.bans.activeUserBan('198.51.100.7', T0), undefined, 'user and IP bans are separate');
      assert.deepEqual(await storage.bans.listIpBans(T0), [ban]);
      assert.equal(await storage.bans.revokeIpBan('198.51.100.7', T0 + 1), 1);
      assert.deepEqual(await storage.bans.listIpBans(T0 + 1), []);
    });
  });

  describe(`${backend.name}: the last revocation of a subject's bans (failures before it stop counting)`, () => {
    it('is the latest revocation time, per subject and per kind; none before any revocation', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());

      await storage.bans.banUser({ username: 'alice', time: T0, expires: T0 + 5 * MINUTE, source: 'regulation' });
      await storage.bans.banIp({ ip: '198.51.100.7', time: T0, expires: T0 + 5 * MINUTE, source: 'regulation' });
      assert.equal(await storage.bans.lastUserRevocation('alice'), undefined, 'an expiring ban is not a revocation');
      assert.equal(await storage.bans.revokeUserBan('alice', T0 + MINUTE), 1);
      await storage.bans.banUser({ username: 'alice', time: T0 + 2 * MINUTE, expires: null, source: 'cli' });
      assert.equal(await storage.bans.revokeUserBan('alice', T0 + 3 * MINUTE), 1);
      assert.equal(await storage.bans.lastUserRevocation('alice'), T0 + 3 * MINUTE);
      assert.equal(await storage.bans.lastUserRevocation('bob'), undefined);
      assert.equal(await storage.bans.lastIpRevocation('198.51.100.7'), undefined, 'user and IP bans are separate');
      assert.equal(await storage.bans.revokeIpBan('198.51.100.7', T0 + 4 * MINUTE), 1);
      assert.equal(await storage.bans.lastIpRevocation('198.51.100.7'), T0 + 4 * MINUTE);
    });
  });
}
