import type { Kysely } from 'kysely';
import type { StorageDialect } from '../types.ts';
import { addIdColumn, indexedText } from './columns.ts';

async function createBanTable(db: Kysely<any>, dialect: StorageDialect, table: string, subject: string): Promise<void> {
  await db.schema
    .createTable(table)
    .$call((builder) => addIdColumn(builder, dialect))
    .addColumn('time', 'bigint', (col) => col.notNull())
    .addColumn('expires', 'bigint') // null: until revoked
    .addColumn('expired', 'bigint') // set when revoked
    .addColumn('revoked', 'boolean', (col) => col.notNull().defaultTo(false))
    .addColumn(subject, indexedText(dialect), (col) => col.notNull())
    .addColumn('source', 'text', (col) => col.notNull())
    .addColumn('reason', 'text')
    .execute();
  await db.schema.createIndex(`${table}_${subject}_idx`).on(table).columns([subject, 'revoked', 'expires']).execute();
}

export async function up(db: Kysely<any>, dialect: StorageDialect): Promise<void> {
  await createBanTable(db, dialect, 'banned_user', 'username');
  await createBanTable(db, dialect, 'banned_ip', 'ip');
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('banned_ip').execute();
  await db.schema.dropTable('banned_user').execute();
}
