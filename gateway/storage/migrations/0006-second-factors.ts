import type { CreateTableBuilder, Kysely } from 'kysely';
import type { StorageDialect } from '../types.ts';
import { sql } from 'kysely';
import { addIdColumn, bytesType, indexedBytesType, indexedText, tableOptions } from './columns.ts';

// Second factors and what comes with them, after Authelia 4.39's schema. Secrets (TOTP seeds, one-time
// codes) are AES-256-GCM ciphertext; recovery codes and one-time codes are found by an HMAC, never by
// the value; sessions by a SHA-256 of their id. Times are integer milliseconds.
/** When a single-use secret was issued, from where, until when, and when it was used or revoked, from where. */
function addSingleUseColumns<TB extends string>(table: CreateTableBuilder<TB, any>) {
  return table
    .addColumn('issued_at', 'bigint', (col) => col.notNull())
    .addColumn('issued_ip', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'bigint', (col) => col.notNull())
    .addColumn('consumed_at', 'bigint')
    .addColumn('consumed_ip', 'text')
    .addColumn('revoked_at', 'bigint')
    .addColumn('revoked_ip', 'text');
}

export async function up(db: Kysely<any>, dialect: StorageDialect): Promise<void> {
  const bytes = bytesType(dialect);
  const indexedBytes = indexedBytesType(dialect);
  const keyText = indexedText(dialect);

  await db.schema
    .createTable('totp_configurations')
    .$call((table) => addIdColumn(table, dialect))
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('last_used_at', 'bigint')
    .addColumn('username', keyText, (col) => col.notNull().unique())
    .addColumn('issuer', 'text', (col) => col.notNull())
    .addColumn('algorithm', 'text', (col) => col.notNull())
    .addColumn('digits', 'integer', (col) => col.notNull())
    .addColumn('period', 'integer', (col) => col.notNull())
    .addColumn('secret', bytes, (col) => col.notNull())
    .execute();

  // one row per (user, time step) accepted: the unique key is the replay guard every instance shares
  await db.schema
    .createTable('totp_history')
    .$call((table) => addIdColumn(table, dialect))
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('username', keyText, (col) => col.notNull())
    .addColumn('step', 'bigint', (col) => col.notNull())
    .addUniqueConstraint('totp_history_username_step_key', ['username', 'step'])
    .execute();

  await db.schema
    .createTable('webauthn_users')
    .$call((table) => addIdColumn(table, dialect))
    .addColumn('username', keyText, (col) => col.notNull().unique())
    .addColumn('user_handle', indexedBytes, (col) => col.notNull().unique())
    .execute();

  await db.schema
    .createTable('webauthn_credentials')
    .$call((table) => addIdColumn(table, dialect))
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('last_used_at', 'bigint')
    .addColumn('username', keyText, (col) => col.notNull())
    .addColumn('description', keyText, (col) => col.notNull())
    // a credential id may be 1023 bytes: base64url, ASCII only, up to 1364 characters
    .addColumn('kid', dialect === 'mysql' ? sql`varchar(1400) character set ascii collate ascii_bin` : 'text', (col) => col.notNull().unique())
    .addColumn('aaguid', 'text')
    .addColumn('attestation_type', 'text', (col) => col.notNull())
    .addColumn('attachment', 'text', (col) => col.notNull())
    .addColumn('transport', 'text', (col) => col.notNull())
    .addColumn('sign_count', 'bigint', (col) => col.notNull())
    .addColumn('clone_warning', 'boolean', (col) => col.notNull().defaultTo(false))
    .addColumn('discoverable', 'boolean', (col) => col.notNull())
    .addColumn('present', 'boolean', (col) => col.notNull())
    .addColumn('verified', 'boolean', (col) => col.notNull())
    .addColumn('backup_eligible', 'boolean', (col) => col.notNull())
    .addColumn('backup_state', 'boolean', (col) => col.notNull())
    .addColumn('public_key', bytes, (col) => col.notNull())
    .addUniqueConstraint('webauthn_credentials_username_description_key', ['username', 'description'])
    .execute();

  await db.schema
    .createTable('recovery_codes')
    .$call((table) => addIdColumn(table, dialect))
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('username', keyText, (col) => col.notNull())
    .addColumn('code_hash', indexedBytes, (col) => col.notNull())
    .addColumn('used_at', 'bigint')
    .addUniqueConstraint('recovery_codes_username_code_hash_key', ['username', 'code_hash'])
    .execute();

  await db.schema
    .createTable('identity_verification')
    .$call((table) => addIdColumn(table, dialect))
    .addColumn('jti', keyText, (col) => col.notNull().unique())
    .addColumn('username', 'text', (col) => col.notNull())
    .addColumn('action', 'text', (col) => col.notNull())
    .$call(addSingleUseColumns)
    .execute();

  await db.schema
    .createTable('one_time_codes')
    .$call((table) => addIdColumn(table, dialect))
    .addColumn('public_id', keyText, (col) => col.notNull().unique())
    .addColumn('signature', indexedBytes, (col) => col.notNull())
    .addColumn('username', keyText, (col) => col.notNull())
    .addColumn('intent', 'text', (col) => col.notNull())
    .$call(addSingleUseColumns)
    .addColumn('code', bytes, (col) => col.notNull())
    .execute();
  await db.schema.createIndex('one_time_codes_signature_idx').on('one_time_codes').columns(['signature', 'username']).execute();

  await db.schema
    .createTable('user_preferences')
    .$call((table) => tableOptions(table, dialect))
    .addColumn('username', keyText, (col) => col.primaryKey())
    .addColumn('second_factor_method', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('user_sessions')
    .$call((table) => addIdColumn(table, dialect))
    .addColumn('session_hash', keyText, (col) => col.notNull().unique())
    .addColumn('username', keyText, (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('last_seen_at', 'bigint', (col) => col.notNull())
    .addColumn('remote_ip', 'text', (col) => col.notNull())
    .addColumn('user_agent', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('user_sessions_username_idx').on('user_sessions').columns(['username', 'last_seen_at']).execute();
}

const TABLES = [
  'user_sessions', 'user_preferences', 'one_time_codes', 'identity_verification', 'recovery_codes',
  'webauthn_credentials', 'webauthn_users', 'totp_history', 'totp_configurations',
];

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of TABLES) await db.schema.dropTable(table).execute();
}
