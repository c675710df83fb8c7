import type { Kysely } from 'kysely';

// Holds `check`, an HMAC derived from encryption_key, written on first start (see ../open.ts).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('encryption')
    .addColumn('name', 'text', (col) => col.primaryKey())
    .addColumn('value', 'text', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('encryption').execute();
}
