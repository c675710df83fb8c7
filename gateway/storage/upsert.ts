/**
 * Inserts that meet an existing row, in each dialect's words: `on conflict (…)` on SQLite and
 * PostgreSQL, `insert ignore` and `on duplicate key update` on MySQL (which has no `on conflict`; it
 * checks every unique key of the table, and each table using these has only the one named).
 */
import type { InsertQueryBuilder, Kysely } from 'kysely';
import type { StorageDialect } from './types.ts';

/** Inserts nothing when a row with the same unique `columns` exists. */
export function orIgnore<QB extends InsertQueryBuilder<any, any, any>>(query: QB, dialect: StorageDialect, columns: readonly string[]): QB {
  if (dialect === 'mysql') return query.orIgnore() as QB;
  return query.onConflict((conflict) => conflict.columns(columns as never).doNothing()) as QB;
}

/** Sets `set` on the existing row when a row with the same unique `columns` exists. */
export function orUpdate<QB extends InsertQueryBuilder<any, any, any>>(
  query: QB,
  dialect: StorageDialect,
  columns: readonly string[],
  set: Record<string, unknown>,
): QB {
  if (dialect === 'mysql') return query.onDuplicateKeyUpdate(set as never) as QB;
  return query.onConflict((conflict) => conflict.columns(columns as never).doUpdateSet(set as never)) as QB;
}

/** Inserts one row of a table with an `id` key and returns it as stored (MySQL has no `returning`: read back by its id). */
export async function insertReturningRow(db: Kysely<any>, dialect: StorageDialect, table: string, values: Record<string, unknown>): Promise<Record<string, unknown>> {
  if (dialect !== 'mysql') return db.insertInto(table).values(values).returningAll().executeTakeFirstOrThrow();
  const result = await db.insertInto(table).values(values).executeTakeFirstOrThrow();
  return db.selectFrom(table).selectAll().where('id', '=', Number(result.insertId)).executeTakeFirstOrThrow();
}

/** Inserts one row of a table with an `id` key and returns the id. */
export async function insertReturningId(db: Kysely<any>, dialect: StorageDialect, table: string, values: Record<string, unknown>): Promise<number> {
  if (dialect !== 'mysql') return Number((await db.insertInto(table).values(values).returning('id').executeTakeFirstOrThrow()).id);
  return Number((await db.insertInto(table).values(values).executeTakeFirstOrThrow()).insertId);
}
