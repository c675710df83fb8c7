import type { CreateTableBuilder } from 'kysely';
import type { StorageDialect } from '../types.ts';

/** An auto-increment primary key: SQLite's rowid alias, PostgreSQL's bigint identity. */
export function addIdColumn<TB extends string, C extends string>(table: CreateTableBuilder<TB, C>, dialect: StorageDialect) {
  return dialect === 'postgres'
    ? table.addColumn('id', 'bigint', (col) => col.primaryKey().generatedByDefaultAsIdentity())
    : table.addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement());
}

/** Raw bytes: SQLite's blob, PostgreSQL's bytea. Both hand a Buffer back. */
export function bytesType(dialect: StorageDialect): 'blob' | 'bytea' {
  return dialect === 'postgres' ? 'bytea' : 'blob';
}
