import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkStorage, openStorage } from '../../../gateway/storage/open.ts';
import { StorageError } from '../../../gateway/storage/errors.ts';
import type { PostgresStorageOptions } from '../../../gateway/storage/options.ts';
import { createTestDatabase } from '../../helpers/postgres.ts';
import { startStallProxy } from '../../helpers/stall-proxy.ts';
import { makeTempDir } from '../../helpers/tmp.ts';
import { BACKENDS, TEST_KEY, quoted, rawQuery, silentLogger } from './backends.ts';

const OTHER_KEY = 'another-encryption-key-of-length';

for (const backend of BACKENDS) {
  describe(`${backend.name}: ping() and startupCheck() of an open storage`, () => {
    it('both pass on a database this Gatehouse opened', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());
      await storage.ping();
      await storage.startupCheck();
    });

    it('startupCheck names a migration that went missing, and a check value that is not this key’s', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());

      await rawQuery(options, "delete from migrations where name = '0005-setup-state'");
      await assert.rejects(storage.startupCheck(), {
        code: 'migrations_pending',
        message: "storage: the database schema is out of date (pending: 0005-setup-state); run 'gatehouse storage migrate'",
      });
      await rawQuery(options, `insert into migrations (name, ${quoted(options, 'timestamp')}) values ('0005-setup-state', '2025-01-01T00:00:00.000Z')`);

      await rawQuery(options, "update encryption set value = 'not-this-key' where name = 'check'");
      await assert.rejects(storage.startupCheck(), {
        code: 'encryption_key_mismatch',
        message: 'storage: the encryption_key does not match the one this database was created with',
      });
    });

    it('both refuse once the storage is closed', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      await storage.close();
      await assert.rejects(storage.ping(), { name: 'StorageError', code: 'closed' });
      await assert.rejects(storage.startupCheck(), { name: 'StorageError', code: 'closed' });
    });
  });

  describe(`${backend.name}: checkStorage (config validate --check) reads, and never migrates or writes`, () => {
    it('an empty database: every migration pending, no key recorded, and nothing created', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const note = await checkStorage(options, silentLogger);
      if (options.local) {
        assert.equal(note, `SQLite database at ${options.local.path}: not created yet, the first start creates it`);
        await assert.rejects(stat(join(options.local.path, '..')), { code: 'ENOENT' }, 'not even its directory');
      } else if (options.mysql) {
        const { database } = options.mysql;
        assert.equal(note, `MySQL database '${database}' at 127.0.0.1:3306: 9 migration(s) pending, the next start applies them; encryption_key not recorded yet, the next start records it`);
        assert.deepEqual(await rawQuery(options, `select table_name from information_schema.tables where table_schema = '${database}'`), []);
      } else {
        const { database } = options.postgres!;
        assert.equal(note, `PostgreSQL database '${database}' at 127.0.0.1:5432: 9 migration(s) pending, the next start applies them; encryption_key not recorded yet, the next start records it`);
        assert.deepEqual(await rawQuery(options, "select table_name from information_schema.tables where table_schema = 'public'"), []);
      }
    });

    it('a database in use: up to date and the key matches; the database is left as it was', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      await (await openStorage(options, { logger: silentLogger, migrate: true })).close();
      const before = options.local ? createHash('sha256').update(await readFile(options.local.path)).digest('hex') : '';

      const note = await checkStorage(options, silentLogger);
      const where = options.local
        ? `SQLite database at ${options.local.path}`
        : options.mysql
          ? `MySQL database '${options.mysql.database}' at 127.0.0.1:3306`
          : `PostgreSQL database '${options.postgres!.database}' at 127.0.0.1:5432`;
      assert.equal(note, `${where}: schema up to date; encryption_key matches`);
      if (options.local) assert.equal(createHash('sha256').update(await readFile(options.local.path)).digest('hex'), before);
    });

    it('another encryption_key is refused, as the start would refuse it', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      await (await openStorage(options, { logger: silentLogger, migrate: true })).close();
      await assert.rejects(checkStorage({ ...options, encryption_key: OTHER_KEY }, silentLogger), (error: unknown) => {
        assert.ok(error instanceof StorageError);
        assert.equal(error.code, 'encryption_key_mismatch');
        return true;
      });
    });

    it('a database migrated by a newer Gatehouse is refused', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      await (await openStorage(options, { logger: silentLogger, migrate: true })).close();
      await rawQuery(options, `insert into migrations (name, ${quoted(options, 'timestamp')}) values ('0099-from-the-future', '2030-01-01T00:00:00.000Z')`);
      await assert.rejects(checkStorage(options, silentLogger), { code: 'schema_too_new' });
    });
  });
}

describe('sqlite: checkStorage refuses a database file that could not be created', () => {
  it('names the path and the directory in the way', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const blocker = join(temp.dir, 'not-a-directory');
    await writeFile(blocker, '');
    const path = join(blocker, 'data', 'db.sqlite3');
    await assert.rejects(checkStorage({ encryption_key: TEST_KEY, local: { path } }, silentLogger), {
      code: 'open_failed',
      message: `storage: local: cannot create the SQLite database at '${path}': '${blocker}' is not a writable directory`,
    });
  });
});

describe('sqlite: checkStorage creates no file beside the database and writes nothing', () => {
  /** Every file in the database's directory with its size, modification time and content hash. */
  async function snapshot(directory: string): Promise<Record<string, string>> {
    const files: Record<string, string> = {};
    for (const name of (await readdir(directory)).sort()) {
      const path = join(directory, name);
      const info = await stat(path);
      files[name] = `${info.size} ${info.mtimeMs} ${createHash('sha256').update(await readFile(path)).digest('hex')}`;
    }
    return files;
  }

  it('a stopped gateway’s database (WAL mode, no -wal file): no -wal or -shm appears, nothing changes', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    // a '?', a '#', a '%' and a space: the path must reach SQLite as a path, not as URI syntax
    const path = join(temp.dir, 'odd ?#%25 name', 'db.sqlite3');
    const options = { encryption_key: TEST_KEY, local: { path } };
    await (await openStorage(options, { logger: silentLogger, migrate: true })).close();
    const before = await snapshot(join(path, '..'));
    assert.deepEqual(Object.keys(before), ['db.sqlite3']);

    assert.equal(await checkStorage(options, silentLogger), `SQLite database at ${path}: schema up to date; encryption_key matches`);
    assert.deepEqual(await snapshot(join(path, '..')), before);
    await assert.rejects(checkStorage({ ...options, encryption_key: OTHER_KEY }, silentLogger), { code: 'encryption_key_mismatch' });
    assert.deepEqual(await snapshot(join(path, '..')), before);
  });

  it('a running gateway’s database: its -wal and -shm are used as they are, and no other file appears', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const path = join(temp.dir, 'db.sqlite3');
    const options = { encryption_key: TEST_KEY, local: { path } };
    const storage = await openStorage(options, { logger: silentLogger, migrate: true });
    t.after(() => storage.close());
    const names = (await readdir(temp.dir)).sort();
    assert.deepEqual(names, ['db.sqlite3', 'db.sqlite3-shm', 'db.sqlite3-wal']);

    assert.equal(await checkStorage(options, silentLogger), `SQLite database at ${path}: schema up to date; encryption_key matches`);
    assert.deepEqual((await readdir(temp.dir)).sort(), names);
    await storage.ping();
  });
});

describe('postgres: an unreachable or hung server fails the checks within its timeouts', () => {
  const unreachable = (address: string, overrides: Partial<PostgresStorageOptions> = {}): PostgresStorageOptions => ({
    address, database: 'gatehouse', schema: 'public', username: 'gatehouse', password: 'pw', timeout: 1000, ...overrides,
  });

  it('checkStorage names the server and says the connection was refused', async () => {
    await assert.rejects(checkStorage({ encryption_key: TEST_KEY, postgres: unreachable('tcp://127.0.0.1:1') }, silentLogger), {
      code: 'unreachable',
      message: "storage: postgres: cannot connect to database 'gatehouse' at 127.0.0.1:1 as 'gatehouse': connection refused",
    });
  });

  it('a server that never answers: checkStorage fails after storage.postgres.timeout', { timeout: 20_000 }, async (t) => {
    const database = await createTestDatabase();
    t.after(database.drop);
    const proxy = await startStallProxy({ host: '127.0.0.1', port: 5432 });
    t.after(() => proxy.close());
    proxy.stall();
    const postgres = { ...database.options, address: `tcp://${proxy.host}:${proxy.port}`, timeout: 1000, statement_timeout: 500 };
    const started = Date.now();
    await assert.rejects(checkStorage({ encryption_key: TEST_KEY, postgres }, silentLogger), {
      code: 'unreachable',
      message: `storage: postgres: cannot connect to database '${database.options.database}' at 127.0.0.1:${proxy.port} as 'postgres': timed out after 1000 ms`,
    });
    assert.ok(Date.now() - started < 5_000, `gave up after ${Date.now() - started} ms`);
  });

  it('a server that stops answering once open: ping() and startupCheck() fail after statement_timeout', { timeout: 20_000 }, async (t) => {
    const database = await createTestDatabase();
    t.after(database.drop);
    const proxy = await startStallProxy({ host: '127.0.0.1', port: 5432 });
    t.after(() => proxy.close());
    const postgres = { ...database.options, address: `tcp://${proxy.host}:${proxy.port}`, timeout: 1000, statement_timeout: 500 };
    const storage = await openStorage({ encryption_key: TEST_KEY, postgres }, { logger: silentLogger, migrate: true });
    t.after(() => storage.close());
    proxy.stall();

    let started = Date.now();
    await assert.rejects(storage.ping(), { code: 'unreachable', message: 'storage: could not answer a ping: the database did not answer' });
    assert.ok(Date.now() - started < 3_000, `ping gave up after ${Date.now() - started} ms`);
    started = Date.now();
    await assert.rejects(storage.startupCheck(), { code: 'unreachable', message: /^storage: postgres: cannot connect to database '.*' at 127\.0\.0\.1:\d+ as 'postgres': (no answer within 500 ms|timed out after 1000 ms)$/ });
    assert.ok(Date.now() - started < 3_000, `startupCheck gave up after ${Date.now() - started} ms`);

    proxy.resume();
    await storage.ping();
  });
});
