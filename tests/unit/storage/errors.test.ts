import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage } from '../../../gateway/storage/open.ts';
import { StorageError } from '../../../gateway/storage/errors.ts';
import { BACKENDS, TEST_KEY, rawQuery, silentLogger } from './backends.ts';

const SQL_WORDS = /select|insert|update|from|where|authentication_logs|banned_user|\$\d|\?/i;

for (const backend of BACKENDS) {
  describe(`${backend.name}: a failing query is a StorageError that names the operation, not the SQL`, () => {
    it('wraps driver errors and keeps the cause for the logs', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());
      await rawQuery(options, 'drop table authentication_logs');

      await assert.rejects(storage.authenticationLogs.loadByUsername('alice', 0, 10), (error: unknown) => {
        assert.ok(error instanceof StorageError);
        assert.equal(error.code, 'query_failed');
        assert.equal(error.message, 'storage: could not load authentication attempts');
        assert.doesNotMatch(error.message, SQL_WORDS);
        assert.ok(error.cause instanceof Error);
        return true;
      });
    });

    it('refuses work after close()', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      await storage.close();
      await storage.close();
      await assert.rejects(storage.bans.activeUserBan('alice', 0), { name: 'StorageError', code: 'closed' });
    });
  });
}

describe('storage options that cannot work are refused with the option named', () => {
  it('needs exactly one of local, postgres and mysql', async () => {
    const message = "storage: configure exactly one of 'local', 'postgres' and 'mysql'";
    await assert.rejects(openStorage({ encryption_key: TEST_KEY }, { logger: silentLogger, migrate: true }), { code: 'invalid_options', message });
    const mysql = { address: 'tcp://127.0.0.1:3306', database: 'x', username: 'u', password: '', timeout: 1000 };
    await assert.rejects(openStorage({ encryption_key: TEST_KEY, local: { path: '/nonexistent/db.sqlite3' }, mysql }, { logger: silentLogger, migrate: true }), {
      code: 'invalid_options',
      message,
    });
  });

  it('rejects an address that is not tcp:// or unix://, without echoing it', async () => {
    const postgres = { address: 'http://user:secret@db', database: 'x', schema: 'public', username: 'u', password: '', timeout: 1000 };
    await assert.rejects(openStorage({ encryption_key: TEST_KEY, postgres }, { logger: silentLogger, migrate: true }), (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.code, 'invalid_options');
      assert.match(error.message, /option 'address' must look like 'tcp:\/\/host:5432'/);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
  });

  it('reports an unreachable PostgreSQL server with its address and the reason', async () => {
    const postgres = { address: 'tcp://127.0.0.1:1', database: 'gatehouse', schema: 'public', username: 'gatehouse', password: 'pw', timeout: 2000 };
    await assert.rejects(openStorage({ encryption_key: TEST_KEY, postgres }, { logger: silentLogger, migrate: true }), {
      code: 'unreachable',
      message: "storage: postgres: cannot connect to database 'gatehouse' at 127.0.0.1:1 as 'gatehouse': connection refused",
    });
  });

  it('reports a database that does not exist', async () => {
    const postgres = { address: 'tcp://127.0.0.1:5432', database: 'gatehouse_missing_db', schema: 'public', username: 'postgres', password: '', timeout: 2000 };
    await assert.rejects(openStorage({ encryption_key: TEST_KEY, postgres }, { logger: silentLogger, migrate: true }), {
      code: 'unreachable',
      message: /the database does not exist$/,
    });
  });
});
