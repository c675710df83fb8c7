import type { Kysely } from 'kysely';
import type { StorageDialect } from '../types.ts';
import { addIdColumn, indexedText } from './columns.ts';

// Signing out of Gatehouse signs the user out of the apps too. `oidc_session_links` ties a gateway
// session (by a random key kept in its data, stable across the id changes a second factor makes) to the
// provider sessions it started; `oidc_payloads.account_id` finds every payload of a subject, for the
// logouts that end all of a user's sessions (sign out everywhere, a password reset, a removed user).
export async function up(db: Kysely<any>, dialect: StorageDialect): Promise<void> {
  const keyText = indexedText(dialect);
  await db.schema.alterTable('oidc_payloads').addColumn('account_id', keyText).execute();
  await db.schema.createIndex('oidc_payloads_account_id_idx').on('oidc_payloads').columns(['account_id', 'model']).execute();
  await db.schema
    .createTable('oidc_session_links')
    .$call((table) => addIdColumn(table, dialect))
    .addColumn('link_key', keyText, (col) => col.notNull())
    .addColumn('session_uid', keyText, (col) => col.notNull().unique())
    .addColumn('username', keyText, (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('oidc_session_links_link_key_idx').on('oidc_session_links').column('link_key').execute();
  await db.schema.createIndex('oidc_session_links_username_idx').on('oidc_session_links').column('username').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('oidc_session_links').execute();
  await db.schema.dropIndex('oidc_payloads_account_id_idx').execute();
  await db.schema.alterTable('oidc_payloads').dropColumn('account_id').execute();
}
