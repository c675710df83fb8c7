import type { Kysely } from 'kysely';
import type { StorageDialect } from '../types.ts';
import { indexedText, tableOptions } from './columns.ts';

// One row per one-time step that must never run again (`first_admin`: the first-run setup link), so an
// emptied users file cannot bring the setup link back.
export async function up(db: Kysely<any>, dialect: StorageDialect): Promise<void> {
  await db.schema
    .createTable('setup_state')
    .$call((table) => tableOptions(table, dialect))
    .addColumn('name', indexedText(dialect), (col) => col.primaryKey())
    .addColumn('completed_at', 'bigint', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('setup_state').execute();
}
