// A MySQL / MariaDB storage that cannot be reached, or that must not be written, says so plainly.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Kysely, sql } from 'kysely';
import { checkStorage, openStorage } from '../../../gateway/storage/open.ts';
import { createMysqlDialect } from '../../../gateway/storage/mysql-dialect.ts';
import type { MysqlStorageOptions } from '../../../gateway/storage/options.ts';
import { createTestMysqlDatabase } from '../../helpers/mariadb.ts';
import { startStallProxy } from '../../helpers/stall-proxy.ts';
import { TEST_KEY, silentLogger } from './backends.ts';

describe('mysql: an unreachable server, a missing database or a refused login fails with the reason', () => {
  const options = (overrides: Partial<MysqlStorageOptions>): MysqlStorageOptions => ({
    address: 'tcp://127.0.0.1:3306', database: 'gatehouse', username: 'root', password: '', timeout: 1000, ...overrides,
  });

  it('names the server and says the connection was refused', async () => {
    await assert.rejects(checkStorage({ encryption_key: TEST_KEY, mysql: options({ address: 'tcp://127.0.0.1:1' }) }, silentLogger), {
      code: 'unreachable',
      message: "storage: mysql: cannot connect to database 'gatehouse' at 127.0.0.1:1 as 'root': connection refused",
    });
  });

  it('says the database does not exist, and that the login was refused', async () => {
    await assert.rejects(openStorage({ encryption_key: TEST_KEY, mysql: options({ database: 'gatehouse_test_missing' }) }, { logger: silentLogger, migrate: true }), {
      code: 'unreachable',
      message: "storage: mysql: cannot connect to database 'gatehouse_test_missing' at 127.0.0.1:3306 as 'root': the database does not exist",
    });
    await assert.rejects(checkStorage({ encryption_key: TEST_KEY, mysql: options({ username: 'gatehouse_nobody', password: 'wrong' }) }, silentLogger), {
      code: 'unreachable',
      message: "storage: mysql: cannot connect to database 'gatehouse' at 127.0.0.1:3306 as 'gatehouse_nobody': authentication failed",
    });
  });

  it('a server that never answers: the start fails after storage.mysql.timeout', { timeout: 20_000 }, async (t) => {
    const proxy = await startStallProxy({ host: '127.0.0.1', port: 3306 });
    t.after(() => proxy.close());
    proxy.stall();
    const started = Date.now();
    await assert.rejects(openStorage({ encryption_key: TEST_KEY, mysql: options({ address: `tcp://${proxy.host}:${proxy.port}` }) }, { logger: silentLogger, migrate: true }), {
      code: 'unreachable',
      message: /^storage: mysql: cannot connect to database 'gatehouse' at 127\.0\.0\.1:\d+ as 'root': /,
    });
    assert.ok(Date.now() - started < 10_000, 'within the timeout, not the driver default');
  });
});

describe('mysql: a server that stops answering mid-way fails each request within the statement timeout', () => {
  it('ping() rejects as unreachable instead of hanging, and answers again once the server does', { timeout: 20_000 }, async (t) => {
    const database = await createTestMysqlDatabase();
    t.after(database.drop);
    const proxy = await startStallProxy({ host: '127.0.0.1', port: 3306 });
    t.after(() => proxy.close());
    const mysql = { ...database.options, address: `tcp://${proxy.host}:${proxy.port}`, statement_timeout: 500 };
    const storage = await openStorage({ encryption_key: TEST_KEY, mysql }, { logger: silentLogger, migrate: true });
    t.after(() => storage.close());
    await storage.ping();
    proxy.stall();
    const started = Date.now();
    await assert.rejects(storage.ping(), { code: 'unreachable', message: 'storage: could not answer a ping: the database did not answer' });
    assert.ok(Date.now() - started < 5_000, `gave up after ${Date.now() - started} ms`);
    proxy.resume();
    await storage.ping();
  });
});

describe('mysql: the read-only connections of config validate --check cannot write', () => {
  it('refuses an insert on a connection opened read-only', async (t) => {
    const database = await createTestMysqlDatabase();
    t.after(database.drop);
    const storage = await openStorage({ encryption_key: TEST_KEY, mysql: database.options }, { logger: silentLogger, migrate: true });
    await storage.close();
    const db = new Kysely<any>({ dialect: createMysqlDialect(database.options, silentLogger, { readOnly: true }).dialect });
    t.after(() => db.destroy());
    await assert.rejects(sql`insert into setup_state (name, completed_at) values ('x', 1)`.execute(db), { code: 'ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION' });
    assert.deepEqual((await sql`select count(*) as n from setup_state`.execute(db)).rows, [{ n: 0 }]);
  });
});
