import { sql } from 'kysely';
import type { CreateTableBuilder, Expression } from 'kysely';
import type { StorageDialect } from '../types.ts';

/** An auto-increment primary key: SQLite's rowid alias, PostgreSQL's bigint identity, MySQL's bigint auto_increment. */
export function addIdColumn<TB extends string, C extends string>(table: CreateTableBuilder<TB, C>, dialect: StorageDialect) {
  if (dialect === 'postgres') return table.addColumn('id', 'bigint', (col) => col.primaryKey().generatedByDefaultAsIdentity());
  if (dialect === 'mysql') return mysqlTable(table).addColumn('id', 'bigint', (col) => col.primaryKey().autoIncrement());
  return table.addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement());
}

/**
 * MySQL's table options: InnoDB (transactions, row locks) and utf8mb4 with a binary collation, so
 * text compares byte for byte as on SQLite and PostgreSQL (the server's default collation would take
 * `Alice` for `alice` and `é` for `e`). Tables made by addIdColumn have them already.
 */
function mysqlTable<TB extends string, C extends string>(table: CreateTableBuilder<TB, C>) {
  return table.modifyEnd(sql`engine = InnoDB default charset = utf8mb4 collate = utf8mb4_bin`);
}

/** The MySQL table options (mysqlTable) on MySQL; nothing elsewhere. For tables without addIdColumn. */
export function tableOptions<TB extends string, C extends string>(table: CreateTableBuilder<TB, C>, dialect: StorageDialect) {
  return dialect === 'mysql' ? mysqlTable(table) : table;
}

/** Raw bytes: SQLite's blob, PostgreSQL's bytea, MySQL's longblob. Each hands a Buffer back. */
export function bytesType(dialect: StorageDialect): 'blob' | 'bytea' | Expression<unknown> {
  if (dialect === 'mysql') return sql`longblob`;
  return dialect === 'postgres' ? 'bytea' : 'blob';
}

/** Bytes that are indexed: MySQL cannot index a blob whole, so there they are varbinary (hashes, handles: short). */
export function indexedBytesType(dialect: StorageDialect): 'blob' | 'bytea' | 'varbinary(255)' {
  if (dialect === 'mysql') return 'varbinary(255)';
  return dialect === 'postgres' ? 'bytea' : 'blob';
}

/**
 * Text that is indexed, unique or a key: `text` on SQLite and PostgreSQL; on MySQL, which indexes no
 * text column whole, `varchar(length)` (utf8mb4: 4 bytes a character, and an index holds at most 3072
 * bytes, so the columns of one index stay within 768 characters together). 256: the longest username the
 * login form takes.
 */
export function indexedText(dialect: StorageDialect, length = 256): 'text' | `varchar(${number})` {
  return dialect === 'mysql' ? `varchar(${length})` : 'text';
}
