import type { Kysely } from 'kysely';
import type { StorageDialect } from '../types.ts';
import { indexedText, tableOptions } from './columns.ts';

// Holds `check`, an HMAC derived from encryption_key, written on first start (see ../open.ts).
export async function up(db: Kysely<any>, dialect: StorageDialect): Promise<void> {
  await db.schema
    .createTable('encryption')
    .$call((table) => tableOptions(table, dialect))
    .addColumn('name', indexedText(dialect), (col) => col.primaryKey())
    .addColumn('value', 'text', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('encryption').execute();
}
