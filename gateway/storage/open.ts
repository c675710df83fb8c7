import { access, constants, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Kysely, sql } from 'kysely';
import type { Dialect } from 'kysely';
import type { Logger } from 'pino';
import { createSqliteDialect } from './dialects.ts';
import { deriveKeys } from './encryption.ts';
import { encryptionRepository } from './encryption-key.ts';
import { StorageError } from './errors.ts';
import { createDatabaseHandle } from './handle.ts';
import { tlsFailureReason } from '../../lib/net/tls-client.ts';
import { createOutageLog } from '../../lib/outage-log.ts';
import { applyMigrations, pendingMigrations } from './migrator.ts';
import type { MigrationTarget } from './migrator.ts';
import { DEFAULT_STATEMENT_TIMEOUT_MS, describeMysqlEndpoint, parseMysqlAddress, parsePostgresAddress, QUERY_READ_TIMEOUT } from './options.ts';
import type { MysqlStorageOptions, PostgresStorageOptions, SqlStorageOptions, StorageOptions } from './options.ts';
import { createStorage, pendingError, type Storage } from './storage.ts';
import type { Database } from './types.ts';

export interface OpenStorageContext {
  logger: Logger;
  /** apply pending migrations; when false, pending migrations are an error */
  migrate: boolean;
  /** The clock of the outage log's summaries (tests move it). */
  now?: () => number;
}

interface Connection {
  db: Kysely<Database>;
  target: Omit<MigrationTarget, 'db'>;
  /** One round trip, so an unreachable server is one clear error. */
  probe(): Promise<void>;
  /** e.g. `PostgreSQL database 'gatehouse' at 127.0.0.1:5432` */
  description: string;
}

function assertOneBackend(options: StorageOptions): void {
  if ([options.local, options.postgres, options.mysql].filter(Boolean).length !== 1) {
    throw new StorageError('invalid_options', "storage: configure exactly one of 'local', 'postgres' and 'mysql'");
  }
}

async function connect(options: StorageOptions, logger: Logger, mode: { readOnly?: boolean } = {}): Promise<Connection> {
  let dialect: Dialect;
  if (options.postgres) {
    const postgres = options.postgres;
    // the pg driver loads only for a PostgreSQL storage
    dialect = (await import('./postgres-dialect.ts')).createPostgresDialect(postgres, logger, mode).dialect;
    const db = new Kysely<Database>({ dialect });
    const { host, port } = parsePostgresAddress(postgres.address);
    return {
      db,
      target: { dialect: 'postgres', schema: postgres.schema || 'public' },
      probe: () => probePostgres(db, postgres),
      description: `PostgreSQL database '${postgres.database}' at ${host}:${port}`,
    };
  }
  if (options.mysql) {
    const mysql = options.mysql;
    // the mysql2 driver loads only for a MySQL storage
    dialect = (await import('./mysql-dialect.ts')).createMysqlDialect(mysql, logger, mode).dialect;
    const db = new Kysely<Database>({ dialect });
    return {
      db,
      target: { dialect: 'mysql' },
      probe: () => probeMysql(db, mysql),
      description: `MySQL database '${mysql.database}' at ${describeMysqlEndpoint(parseMysqlAddress(mysql.address))}`,
    };
  }
  const path = options.local!.path;
  dialect = await createSqliteDialect(path, logger, mode);
  const db = new Kysely<Database>({ dialect });
  return {
    db,
    target: { dialect: 'sqlite' },
    probe: () => wrapped('open_failed', `storage: local: cannot read the SQLite database at '${path}'`, () => sql`select 1`.execute(db)).then(() => {}),
    description: `SQLite database at ${path}`,
  };
}

/**
 * Connects to the configured database, brings its schema up to date (or refuses if `migrate` is
 * false and it is behind), and verifies that `encryption_key` is the one the database was created
 * with, so a changed key fails at startup instead of corrupting encrypted rows later.
 */
export async function openStorage(options: StorageOptions, context: OpenStorageContext): Promise<Storage> {
  const { logger } = context;
  assertOneBackend(options);
  const keys = deriveKeys(options.encryption_key); // checks the key's length before touching any file
  const { db, target, probe } = await connect(options, logger);
  const migration = { ...target, db };

  try {
    if (target.dialect !== 'sqlite') await probe();
    let applied: string[] = [];
    if (context.migrate) {
      applied = await wrapped('migration_failed', 'storage: the migrations could not run', () => applyMigrations(migration, logger));
    } else {
      const pending = await wrapped('open_failed', 'storage: could not read the migration history', () => pendingMigrations(migration));
      if (pending.length > 0) throw pendingError(pending);
    }
    const storage = createStorage({
      db,
      dialect: target.dialect,
      keys,
      appliedMigrations: applied,
      outage: createOutageLog(logger, `storage (${target.dialect})`, { now: context.now }),
      probe,
      pendingMigrations: () => wrapped('open_failed', 'storage: could not read the migration history', () => pendingMigrations(migration)),
    });
    // first start: record the key's check value; every later start: compare
    if (await storage.encryption.recordKey()) logger.info('storage: recorded the encryption key check value');
    return storage;
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

/**
 * `gatehouse config validate --check`: whether the gateway could start on this storage, without
 * migrating or writing anything (SQLite is opened read-only, never created, and no -wal or -shm file
 * is created beside it; PostgreSQL and MySQL run read-only transactions). Pending migrations and an unrecorded key are fine: the first start applies
 * and records them. Resolves with what it found; rejects with what would stop the start.
 */
export async function checkStorage(options: StorageOptions, logger: Logger): Promise<string> {
  assertOneBackend(options);
  const keys = deriveKeys(options.encryption_key);
  if (options.local && !(await exists(options.local.path))) {
    await assertCreatable(options.local.path);
    return `SQLite database at ${options.local.path}: not created yet, the first start creates it`;
  }
  const { db, target, probe, description } = await connect(options, logger, { readOnly: true });
  try {
    await probe();
    const pending = await wrapped('open_failed', 'storage: could not read the migration history', () => pendingMigrations({ ...target, db }));
    // the table holding the key's check value comes with a migration; before it, no key is recorded
    const key = pending.includes('0003-encryption') ? 'unrecorded' : await encryptionRepository(createDatabaseHandle({ db, dialect: target.dialect }), keys).checkKey();
    const schema = pending.length === 0 ? 'schema up to date' : `${pending.length} migration(s) pending, the next start applies them`;
    return `${description}: ${schema}; ${key === 'matches' ? 'encryption_key matches' : 'encryption_key not recorded yet, the next start records it'}`;
  } finally {
    await db.destroy().catch(() => {});
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return false;
      throw new StorageError('open_failed', `storage: local: cannot open the SQLite database at '${path}' (${error.code})`, { cause: error });
    },
  );
}

/** The nearest existing directory on the way to `path` must let us create what is missing. */
async function assertCreatable(path: string): Promise<void> {
  let directory = dirname(path);
  while (!(await exists(directory)) && dirname(directory) !== directory) directory = dirname(directory);
  const info = await stat(directory);
  const writable = info.isDirectory() && (await access(directory, constants.W_OK | constants.X_OK).then(() => true, () => false));
  if (!writable) {
    throw new StorageError('open_failed', `storage: local: cannot create the SQLite database at '${path}': '${directory}' is not a writable directory`);
  }
}

async function wrapped<T>(code: 'open_failed' | 'migration_failed', message: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StorageError) throw error;
    throw new StorageError(code, message, { cause: error });
  }
}

/** Why a connection failed, by the socket's error code (both engines). */
const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EHOSTUNREACH: 'host unreachable',
  ETIMEDOUT: 'timed out',
  ENOENT: 'no socket at that path',
};

const PG_REASONS: Record<string, string> = {
  ...NETWORK_REASONS,
  '28P01': 'authentication failed',
  '28000': 'authentication failed',
  '3D000': 'the database does not exist',
  '3F000': 'the schema does not exist',
};

const MYSQL_REASONS: Record<string, string> = {
  ...NETWORK_REASONS,
  ER_ACCESS_DENIED_ERROR: 'authentication failed',
  ER_DBACCESS_DENIED_ERROR: 'access to the database denied',
  ER_BAD_DB_ERROR: 'the database does not exist',
};

function probePostgres(db: Kysely<Database>, options: PostgresStorageOptions): Promise<void> {
  const { host, port } = parsePostgresAddress(options.address);
  const fallbacks = options.servers?.length ? ` (nor at its ${options.servers.length} fallback server(s))` : '';
  return probe(db, options, 'postgres', PG_REASONS, `${host}:${port}${fallbacks}`);
}

function probeMysql(db: Kysely<Database>, options: MysqlStorageOptions): Promise<void> {
  return probe(db, options, 'mysql', MYSQL_REASONS, describeMysqlEndpoint(parseMysqlAddress(options.address)));
}

/** One round trip up front, so an unreachable server is one clear startup error naming the server (`where`) and why. */
async function probe(db: Kysely<Database>, options: SqlStorageOptions, engine: 'postgres' | 'mysql', reasons: Record<string, string>, where: string): Promise<void> {
  const started = Date.now();
  try {
    await sql`select 1`.execute(db);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const answerTimeout = options.statement_timeout ?? DEFAULT_STATEMENT_TIMEOUT_MS;
    const reason =
      (typeof code === 'string' ? reasons[code] : undefined) ??
      tlsFailureReason(error) ??
      // connected, but the server (or something in between) never answered (pg's client-side timeout)
      ((error as Error).message === QUERY_READ_TIMEOUT ? `no answer within ${answerTimeout} ms` : undefined) ??
      (Date.now() - started >= options.timeout ? `timed out after ${options.timeout} ms` : 'connection failed');
    throw new StorageError(
      'unreachable',
      `storage: ${engine}: cannot connect to database '${options.database}' at ${where} as '${options.username}': ${reason}`,
      { cause: error },
    );
  }
}
