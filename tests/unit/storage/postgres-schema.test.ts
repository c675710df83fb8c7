import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage } from '../../../gateway/storage/open.ts';
import { createTestDatabase } from '../../helpers/postgres.ts';
import { TEST_KEY, rawQuery, silentLogger } from './backends.ts';

describe("postgres: option 'schema' keeps every table, the migration history included, in that schema", () => {
  it('creates the schema and nothing in public', async (t) => {
    const database = await createTestDatabase();
    t.after(database.drop);
    const options = { encryption_key: TEST_KEY, postgres: { ...database.options, schema: 'Gate House' } };
    const storage = await openStorage(options, { logger: silentLogger, migrate: true });
    t.after(() => storage.close());

    const rows = await rawQuery(
      options,
      `select table_schema, table_name from information_schema.tables
      where table_schema in ('public', 'Gate House') order by table_name`,
    );
    assert.deepEqual(
      rows.map((row) => `${row['table_schema']}.${row['table_name']}`),
      [
        'Gate House.attempt_reservations', 'Gate House.authentication_logs', 'Gate House.banned_ip', 'Gate House.banned_user', 'Gate House.encryption',
        'Gate House.identity_verification', 'Gate House.migrations', 'Gate House.migrations_lock',
        'Gate House.oidc_consents', 'Gate House.oidc_payloads', 'Gate House.oidc_session_links', 'Gate House.oidc_subjects', 'Gate House.one_time_codes', 'Gate House.recovery_codes',
        'Gate House.setup_state', 'Gate House.totp_configurations', 'Gate House.totp_history', 'Gate House.user_preferences', 'Gate House.user_sessions',
        'Gate House.webauthn_credentials', 'Gate House.webauthn_users',
      ],
    );

    await storage.bans.banUser({ username: 'alice', time: 1, expires: null, source: 'cli' });
    await storage.close();
    const again = await openStorage(options, { logger: silentLogger, migrate: false });
    t.after(() => again.close());
    assert.deepEqual(again.appliedMigrations, []);
    assert.equal((await again.bans.activeUserBan('alice', 2))?.username, 'alice');
  });
});
