import type { Kysely } from 'kysely';
import type { StorageDialect } from '../types.ts';
import { addIdColumn, indexedText } from './columns.ts';

// A first-factor attempt whose password is being checked right now: counted as a failure until it is
// settled, so parallel guesses cannot all pass the ban check. `expires` frees the rows of a crashed
// instance.
export async function up(db: Kysely<any>, dialect: StorageDialect): Promise<void> {
  await db.schema
    .createTable('attempt_reservations')
    .$call((table) => addIdColumn(table, dialect))
    .addColumn('time', 'bigint', (col) => col.notNull())
    .addColumn('expires', 'bigint', (col) => col.notNull())
    .addColumn('username', indexedText(dialect, 512), (col) => col.notNull())
    .addColumn('remote_ip', indexedText(dialect), (col) => col.notNull())
    .execute();
  await db.schema.createIndex('attempt_reservations_username_idx').on('attempt_reservations').columns(['username', 'expires']).execute();
  await db.schema.createIndex('attempt_reservations_remote_ip_idx').on('attempt_reservations').columns(['remote_ip', 'expires']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('attempt_reservations').execute();
}
