import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StorageError } from '../../../gateway/storage/errors.ts';
import { openStorage } from '../../../gateway/storage/open.ts';
import { BACKENDS, rawQuery, recordingLogger, silentLogger } from './backends.ts';

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

  describe(`${backend.name}: a failure inside exclusively() says what failed; only the database not answering is an outage`, () => {
    const open = async (t: import('node:test').TestContext) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const { logger, lines } = recordingLogger();
      const storage = await openStorage(options, { logger, migrate: true });
      t.after(() => storage.close());
      const outageLines = () => lines().filter((line) => String(line['msg']).startsWith(`storage (${backend.name}): `));
      return { storage, outageLines };
    };

    it('a bug in the work (a TypeError) comes out as itself: a 500, not a 503, and no outage logged', async (t) => {
      const { storage, outageLines } = await open(t);
      const bug = new TypeError("Cannot read properties of undefined (reading 'id')");
      await assert.rejects(
        storage.exclusively(['regulation:user:alice'], async (tx) => {
          await tx.attemptReservations.deleteExpired(T0);
          throw bug;
        }),
        (error: unknown) => {
          assert.equal(error, bug);
          return true;
        },
      );
      assert.deepEqual(outageLines(), []);
      await storage.ping();
    });

    it('a StorageError thrown inside (a query that failed, or the work’s own) is rethrown unchanged', async (t) => {
      const { storage, outageLines } = await open(t);
      await assert.rejects(
        storage.exclusively(['regulation:user:alice'], (tx) =>
          tx.attemptReservations.insert({ time: T0, expires: T0 + 1000, username: null as unknown as string, remoteIp: '192.0.2.1' }),
        ),
        (error: unknown) => {
          assert.ok(error instanceof StorageError);
          assert.equal(error.code, 'query_failed');
          assert.doesNotMatch(error.message, /did not answer/);
          return true;
        },
      );
      const own = new StorageError('decryption_failed', 'storage: a row could not be decrypted');
      await assert.rejects(storage.exclusively(['k'], async () => { throw own; }), (error: unknown) => {
        assert.equal(error, own);
        return true;
      });
      assert.deepEqual(outageLines(), []);
    });

    if (backend.name === 'postgres') {
      it('the connection lost mid-transaction is `unreachable` (a 503), logged as an outage, and does not end the process', async (t) => {
        const { options, cleanup } = await backend.create();
        t.after(cleanup);
        const { logger, lines } = recordingLogger();
        const storage = await openStorage(options, { logger, migrate: true });
        t.after(() => storage.close());
        await assert.rejects(
          storage.exclusively(['regulation:user:alice'], async (tx) => {
            await rawQuery(options, "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = 'gatehouse'");
            return tx.attemptReservations.deleteExpired(T0);
          }),
          { name: 'StorageError', code: 'unreachable' },
        );
        assert.ok(lines().some((line) => line['msg'] === 'storage (postgres): unavailable; requests that need it fail until it answers again'));
        await storage.ping();
      });
    }
  });
}
