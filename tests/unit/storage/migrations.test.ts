import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { migrateStorage, openStorage } from '../../../gateway/storage/open.ts';
import { StorageError } from '../../../gateway/storage/errors.ts';
import { BACKENDS, rawQuery, silentLogger } from './backends.ts';

const ALL = ['0001-authentication-logs', '0002-bans', '0003-encryption', '0004-attempt-reservations', '0005-setup-state', '0006-second-factors', '0007-session-ids', '0008-oidc', '0009-oidc-session-links'];

for (const backend of BACKENDS) {
  describe(`${backend.name}: numbered migrations apply once`, () => {
    it('applies every migration on first open, none on reopen, and the tables are usable', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);

      const first = await openStorage(options, { logger: silentLogger, migrate: true });
      assert.deepEqual(first.appliedMigrations, ALL);
      for (const table of ['authentication_logs', 'attempt_reservations', 'banned_user', 'banned_ip', 'encryption', 'setup_state', 'totp_configurations', 'totp_history', 'webauthn_users', 'webauthn_credentials', 'recovery_codes', 'identity_verification', 'one_time_codes', 'user_preferences', 'user_sessions'] as const) {
        const rows = await rawQuery(options, `select * from ${table}`);
        assert.ok(Array.isArray(rows), `${table} exists`);
      }
      await first.close();

      const second = await openStorage(options, { logger: silentLogger, migrate: true });
      assert.deepEqual(second.appliedMigrations, []);
      await second.close();
      assert.deepEqual(await migrateStorage(options, silentLogger), []);
    });

    it('`storage migrate` returns the names it applied', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      assert.deepEqual(await migrateStorage(options, silentLogger), ALL);
      const storage = await openStorage(options, { logger: silentLogger, migrate: false });
      assert.deepEqual(storage.appliedMigrations, []);
      await storage.close();
    });
  });

  describe(`${backend.name}: a schema that does not match the code is refused`, () => {
    it('refuses to start on an unmigrated database when migrate is false, naming the command', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      await assert.rejects(openStorage(options, { logger: silentLogger, migrate: false }), (error: unknown) => {
        assert.ok(error instanceof StorageError);
        assert.equal(error.code, 'migrations_pending');
        assert.match(error.message, /0001-authentication-logs.*gatehouse storage migrate/);
        return true;
      });
    });

    it('refuses a database migrated by a newer Gatehouse', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());
      const timestamp = backend.name === 'mysql' ? '`timestamp`' : '"timestamp"';
      await rawQuery(options, `insert into migrations (name, ${timestamp}) values ('0099-from-the-future', '${new Date().toISOString()}')`);
      await storage.close();
      await assert.rejects(openStorage(options, { logger: silentLogger, migrate: true }), (error: unknown) => {
        assert.ok(error instanceof StorageError);
        assert.equal(error.code, 'schema_too_new');
        assert.match(error.message, /0099-from-the-future/);
        return true;
      });
    });
  });

  describe(`${backend.name}: each migration is one transaction`, () => {
    const skip = backend.name === 'mysql' ? 'MySQL commits each create table at once: a migration failing half-way leaves its first tables' : false;
    it('a migration that fails half-way leaves the database at the migration before it', { skip }, async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      // 0002 creates banned_user, then banned_ip: make the second step fail
      await rawQuery(options, 'create table banned_ip (squatter integer)');

      await assert.rejects(openStorage(options, { logger: silentLogger, migrate: true }), (error: unknown) => {
        assert.ok(error instanceof StorageError);
        assert.equal(error.code, 'migration_failed');
        assert.equal(error.message, "storage: migration '0002-bans' failed; the database is left at the migration before it");
        return true;
      });
      const history = await rawQuery(options, 'select name from migrations order by name');
      assert.deepEqual(history.map((row) => row['name']), ['0001-authentication-logs']);
      const tables = await rawQuery(
        options,
        backend.name === 'sqlite'
          ? "select name from sqlite_master where type = 'table' and name = 'banned_user'"
          : "select table_name from information_schema.tables where table_name = 'banned_user'",
      );
      assert.deepEqual(tables, [], 'banned_user was rolled back with the failed migration');

      await rawQuery(options, 'drop table banned_ip');
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      assert.deepEqual(storage.appliedMigrations, ALL.slice(1));
      await storage.close();
    });
  });
}
