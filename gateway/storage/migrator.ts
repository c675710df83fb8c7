import type { Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import type { Logger } from 'pino';
import { StorageError } from './errors.ts';
import { MIGRATION_NAMES, migrationProvider } from './migrations/index.ts';
import type { StorageDialect } from './types.ts';

const MIGRATION_TABLE = 'migrations';
const MIGRATION_LOCK_TABLE = 'migrations_lock';

export interface MigrationTarget {
  db: Kysely<any>;
  dialect: StorageDialect;
  /** PostgreSQL schema holding every table, the migration history included */
  schema?: string;
}

async function executedMigrations(target: MigrationTarget): Promise<string[]> {
  const tables = await target.db.introspection.getTables({ withInternalKyselyTables: true });
  const exists = tables.some((table) => table.name === MIGRATION_TABLE && (!target.schema || table.schema === target.schema));
  if (!exists) return [];
  const db = target.schema ? target.db.withSchema(target.schema) : target.db;
  const rows = await db.selectFrom(MIGRATION_TABLE).select('name').execute();
  return rows.map((row) => String(row.name));
}

function assertKnown(executed: readonly string[]): void {
  const unknown = executed.find((name) => !MIGRATION_NAMES.includes(name));
  if (unknown !== undefined) {
    throw new StorageError(
      'schema_too_new',
      `storage: the database was migrated by a newer Gatehouse (migration '${unknown}' is unknown to this version); upgrade Gatehouse or restore a backup`,
    );
  }
}

/** Names of the migrations this code has and the database has not applied yet. */
export async function pendingMigrations(target: MigrationTarget): Promise<string[]> {
  const executed = await executedMigrations(target);
  assertKnown(executed);
  return MIGRATION_NAMES.filter((name) => !executed.includes(name));
}

/**
 * Applies every pending migration, one transaction each (a failure leaves the database at the
 * previous migration), under Kysely's migration lock so that two instances starting together
 * do not both migrate. Returns the names applied, in order.
 */
export async function applyMigrations(target: MigrationTarget, logger: Logger): Promise<string[]> {
  await pendingMigrations(target);
  const migrator = new Migrator({
    db: target.db,
    provider: migrationProvider(target.dialect),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    ...(target.schema ? { migrationTableSchema: target.schema } : {}),
  });
  const applied: string[] = [];
  for (;;) {
    const { error, results = [] } = await migrator.migrateUp();
    if (error !== undefined) {
      const failed = results.find((result) => result.status === 'Error');
      throw new StorageError(
        'migration_failed',
        failed
          ? `storage: migration '${failed.migrationName}' failed; the database is left at the migration before it`
          : 'storage: the migrations could not run',
        { cause: error },
      );
    }
    const done = results.filter((result) => result.status === 'Success');
    if (done.length === 0) return applied;
    for (const { migrationName } of done) {
      applied.push(migrationName);
      logger.info({ migration: migrationName }, `storage: applied migration ${migrationName}`);
    }
  }
}
