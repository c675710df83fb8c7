import type { Kysely } from 'kysely';
import type { StorageDialect } from '../types.ts';
import { addIdColumn, indexedText } from './columns.ts';

// `text`, not `varchar(n)`: an over-long username or URI typed at the login form must still be recorded
// (MySQL indexes no text: there the indexed username is varchar(512), and the repository cuts a longer one to it).
// `bigint` times and `boolean` flags are portable: SQLite gives them integer/numeric affinity.
export async function up(db: Kysely<any>, dialect: StorageDialect): Promise<void> {
  await db.schema
    .createTable('authentication_logs')
    .$call((table) => addIdColumn(table, dialect))
    .addColumn('time', 'bigint', (col) => col.notNull())
    .addColumn('successful', 'boolean', (col) => col.notNull())
    .addColumn('banned', 'boolean', (col) => col.notNull().defaultTo(false))
    .addColumn('username', indexedText(dialect, 512), (col) => col.notNull())
    .addColumn('auth_type', 'text', (col) => col.notNull())
    .addColumn('remote_ip', indexedText(dialect), (col) => col.notNull())
    .addColumn('request_uri', 'text', (col) => col.notNull())
    .addColumn('request_method', 'text', (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('authentication_logs_username_time_idx')
    .on('authentication_logs')
    .columns(['username', 'time'])
    .execute();
  await db.schema
    .createIndex('authentication_logs_remote_ip_time_idx')
    .on('authentication_logs')
    .columns(['remote_ip', 'time'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('authentication_logs').execute();
}
