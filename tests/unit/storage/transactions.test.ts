import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage } from '../../../gateway/storage/open.ts';
import { BACKENDS, silentLogger } from './backends.ts';

const T0 = 1_750_000_000_000;

for (const backend of BACKENDS) {
  describe(`${backend.name}: the repositories exclusively() hands over run in its transaction`, () => {
    it('what they wrote is rolled back with it when the work fails', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());

      await assert.rejects(
        storage.exclusively(['regulation:user:alice'], async (tx) => {
          await tx.attemptReservations.deleteExpired(T0);
          await tx.bans.banUser({ username: 'alice', time: T0, expires: null, source: 'cli' });
          await tx.authenticationLogs.append({
            time: T0, successful: false, banned: false, username: 'alice', authType: '1fa', remoteIp: '192.0.2.1', requestUri: '/', requestMethod: 'POST',
          });
          assert.equal((await tx.bans.activeUserBan('alice', T0))?.username, 'alice', 'the transaction sees its own writes');
          throw new Error('the work failed');
        }),
      );
      assert.equal(await storage.bans.activeUserBan('alice', T0), undefined);
      assert.deepEqual(await storage.authenticationLogs.loadByUsername('alice', 0, 10), []);
    });

    it('what they wrote stays when the work succeeds, and the work’s result is returned', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());

      const id = await storage.exclusively(['a', 'b', 'a'], (tx) => tx.attemptReservations.insert({ time: T0, expires: T0 + 1000, username: 'alice', remoteIp: '192.0.2.1' }));
      assert.equal(typeof id, 'number');
      assert.equal(await storage.attemptReservations.count('username', 'alice', T0, -1), 1);
    });
  });
}
