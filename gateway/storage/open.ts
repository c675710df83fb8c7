import { Kysely, sql } from 'kysely';
import type { Dialect } from 'kysely';
import type { Logger } from 'pino';
import { createSqliteDialect } from './dialects.ts';
import { deriveKeys } from './encryption.ts';
import type { StorageKeys } from './encryption.ts';
import { StorageError } from './errors.ts';
import { createOutageLog } from '../../lib/outage-log.ts';
import { applyMigrations, pendingMigrations } from './migrator.ts';
import type { MigrationTarget } from './migrator.ts';
import { parsePostgresAddress } from './options.ts';
import type { PostgresStorageOptions, StorageOptions } from './options.ts';
import { Storage } from './storage.ts';
import type { Database } from './types.ts';

export interface OpenStorageContext {
  logger: Logger;
  /** apply pending migrations; when false, pending migrations are an error */
  migrate: boolean;
  /** The clock of the outage log's summaries (tests move it). */
  now?: () => number;
}

const KEY_CHECK = 'check';

/**
 * Connects to the configured database, brings its schema up to date (or refuses if `migrate` is
 * false and it is behind), and verifies that `encryption_key` is the one the database was created
 * with, so a changed key fails at startup instead of corrupting encrypted rows later.
 */
export async function openStorage(options: StorageOptions, context: OpenStorageContext): Promise<Storage> {
  const { logger } = context;
  if (!options.local === !options.postgres) {
    throw new StorageError('invalid_options', "storage: configure exactly one of 'local' and 'postgres'");
  }
  const encryption = deriveKeys(options.encryption_key); // checks the key's length before touching any file

  let dialect: Dialect;
  let target: Omit<MigrationTarget, 'db'>;
  if (options.postgres) {
    dialect = (await import('./postgres-dialect.ts')).createPostgresDialect(options.postgres, logger).dialect;
    target = { dialect: 'postgres', schema: options.postgres.schema || 'public' };
  } else {
    dialect = await createSqliteDialect(options.local!.path, logger);
    target = { dialect: 'sqlite' };
  }
  const db = new Kysely<Database>({ dialect });

  try {
    if (options.postgres) await probePostgres(db, options.postgres);
    const migration = { ...target, db };
    let applied: string[] = [];
    if (context.migrate) {
      applied = await wrapped('migration_failed', 'storage: the migrations could not run', () => applyMigrations(migration, logger));
    } else {
      const pending = await wrapped('open_failed', 'storage: could not read the migration history', () => pendingMigrations(migration));
      if (pending.length > 0) {
        throw new StorageError(
          'migrations_pending',
          `storage: the database schema is out of date (pending: ${pending.join(', ')}); run 'gatehouse storage migrate'`,
        );
      }
    }
    await wrapped('open_failed', 'storage: could not check the encryption key', () => checkEncryptionKey(db, encryption, logger));
    return new Storage({ db, dialect: target.dialect, encryption, appliedMigrations: applied, outage: createOutageLog(logger, `storage (${target.dialect})`, { now: context.now }) });
  } catch (error) {
    await db.destroy().catch(() => {});
    throw error;
  }
}

/** `gatehouse storage migrate`: applies pending migrations and returns their names. */
export async function migrateStorage(options: StorageOptions, logger: Logger): Promise<string[]> {
  const storage = await openStorage(options, { logger, migrate: true });
  await storage.close();
  return [...storage.appliedMigrations];
}

async function wrapped<T>(code: 'open_failed' | 'migration_failed', message: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StorageError) throw error;
    throw new StorageError(code, message, { cause: error });
  }
}

async function checkEncryptionKey(db: Kysely<Database>, encryption: StorageKeys, logger: Logger): Promise<void> {
  const read = () => db.selectFrom('encryption').select('value').where('name', '=', KEY_CHECK).executeTakeFirst();
  let row = await read();
  if (!row) {
    // first start: record the key's check value (another instance may be doing the same)
    await db
      .insertInto('encryption')
      .values({ name: KEY_CHECK, value: encryption.checkValue })
      .onConflict((conflict) => conflict.column('name').doNothing())
      .execute();
    row = await read();
    logger.info('storage: recorded the encryption key check value');
  }
  if (!row || !encryption.matchesCheckValue(row.value)) {
    throw new StorageError(
      'encryption_key_mismatch',
      'storage: the encryption_key does not match the one this database was created with',
    );
  }
}

const PG_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EHOSTUNREACH: 'host unreachable',
  ETIMEDOUT: 'timed out',
  ENOENT: 'no socket at that path',
  '28P01': 'authentication failed',
  '28000': 'authentication failed',
  '3D000': 'the database does not exist',
  '3F000': 'the schema does not exist',
};

/** One round trip up front, so an unreachable server is one clear startup error. */
async function probePostgres(db: Kysely<Database>, options: PostgresStorageOptions): Promise<void> {
  const started = Date.now();
  try {
    await sql`select 1`.execute(db);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const reason =
      (typeof code === 'string' ? PG_REASONS[code] : undefined) ??
      (Date.now() - started >= options.timeout ? `timed out after ${options.timeout} ms` : 'connection failed');
    const { host, port } = parsePostgresAddress(options.address);
    throw new StorageError(
      'unreachable',
      `storage: postgres: cannot connect to database '${options.database}' at ${host}:${port} as '${options.username}': ${reason}`,
      { cause: error },
    );
  }
}
