import type { Kysely } from 'kysely';
import type { StorageDialect } from '../types.ts';
import { addIdColumn, bytesType, indexedText } from './columns.ts';

// The OpenID Connect provider's state. `oidc_payloads` holds oidc-provider's models (codes, tokens,
// grants, sessions, interactions…), each payload JSON sealed with AES-256-GCM bound to `model:id`; the
// columns beside it are the lookups the provider makes (grant, session uid, user code) and expiry.
// `oidc_subjects` gives each username one opaque `sub`; `oidc_consents` remembers consents.
export async function up(db: Kysely<any>, dialect: StorageDialect): Promise<void> {
  const keyText = indexedText(dialect);
  await db.schema
    .createTable('oidc_payloads')
    .$call((table) => addIdColumn(table, dialect))
    .addColumn('model', keyText, (col) => col.notNull())
    .addColumn('payload_id', keyText, (col) => col.notNull())
    .addColumn('payload', bytesType(dialect), (col) => col.notNull())
    .addColumn('grant_id', keyText)
    .addColumn('uid', keyText)
    .addColumn('user_code', keyText)
    .addColumn('expires_at', 'bigint')
    .addColumn('consumed_at', 'bigint')
    .addUniqueConstraint('oidc_payloads_model_payload_id_key', ['model', 'payload_id'])
    .execute();
  await db.schema.createIndex('oidc_payloads_grant_id_idx').on('oidc_payloads').column('grant_id').execute();
  await db.schema.createIndex('oidc_payloads_uid_idx').on('oidc_payloads').columns(['model', 'uid']).execute();
  await db.schema.createIndex('oidc_payloads_user_code_idx').on('oidc_payloads').columns(['model', 'user_code']).execute();
  await db.schema.createIndex('oidc_payloads_expires_at_idx').on('oidc_payloads').column('expires_at').execute();

  await db.schema
    .createTable('oidc_subjects')
    .$call((table) => addIdColumn(table, dialect))
    .addColumn('username', keyText, (col) => col.notNull().unique())
    .addColumn('subject', keyText, (col) => col.notNull().unique())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('oidc_consents')
    .$call((table) => addIdColumn(table, dialect))
    .addColumn('username', keyText, (col) => col.notNull())
    .addColumn('client_id', keyText, (col) => col.notNull())
    .addColumn('scopes', 'text', (col) => col.notNull())
    .addColumn('claims', 'text', (col) => col.notNull())
    .addColumn('granted_at', 'bigint', (col) => col.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema.createIndex('oidc_consents_username_client_idx').on('oidc_consents').columns(['username', 'client_id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['oidc_consents', 'oidc_subjects', 'oidc_payloads']) await db.schema.dropTable(table).execute();
}
