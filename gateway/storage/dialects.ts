import { chmod, mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { CompiledQuery, PostgresDialect, SqliteAdapter, SqliteDialect } from 'kysely';
import type { DialectAdapter, SqliteDatabase } from 'kysely';
import type { SQLInputValue } from 'node:sqlite';
import type { Logger } from 'pino';
import { StorageError } from './errors.ts';
import { parsePostgresAddress } from './options.ts';
import type { PostgresStorageOptions } from './options.ts';

// a writer waits this long for another's lock (a second instance, the CLI) before SQLITE_BUSY (a 503)
const SQLITE_BUSY_TIMEOUT_MS = 5000;
const PG_INT8_OID = 20;

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  // SQLite rolls DDL back with the transaction; saying so makes Kysely run each migration and
  // its bookkeeping row in one transaction, so a failed migration leaves no half-built table.
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class GatehouseSqliteDialect extends SqliteDialect {
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * The database file as an immutable SQLite URI, read through node:sqlite: better-sqlite3 is built
 * without URI filenames, and its read-only connection to a WAL database still creates the -wal and
 * -shm files (and leaves them). Immutable: no lock, no journal, no file but the database is opened.
 */
async function openImmutable(path: string): Promise<SqliteDatabase> {
  const { DatabaseSync } = await import('node:sqlite');
  const url = pathToFileURL(path);
  url.search = '?mode=ro&immutable=1';
  const database = new DatabaseSync(url, { readOnly: true });
  return {
    close: () => database.close(),
    prepare(text) {
      const statement = database.prepare(text);
      return {
        reader: statement.columns().length > 0,
        all: (parameters) => statement.all(...(parameters as SQLInputValue[])),
        run: (parameters) => statement.run(...(parameters as SQLInputValue[])),
        iterate: (parameters) => statement.iterate(...(parameters as SQLInputValue[])),
      };
    },
  };
}

/**
 * Opens (creating if needed) the SQLite file with mode 0600 in WAL mode. `readOnly`: opens an existing
 * file for reading and changes nothing, neither the file nor its mode, nor creates any file beside it
 * (`config validate --check`). While a -wal or -journal file lies beside the database (a gateway has it
 * open, or stopped mid-write), the newest rows may be in it: the database is then opened read-only by
 * path, which uses the files that are there.
 */
export async function createSqliteDialect(path: string, logger: Logger, options: { readOnly?: boolean } = {}): Promise<SqliteDialect> {
  let database: BetterSqlite3.Database;
  try {
    if (options.readOnly) {
      if (!(await exists(`${path}-wal`)) && !(await exists(`${path}-journal`))) {
        return new GatehouseSqliteDialect({ database: await openImmutable(path) });
      }
      database = new BetterSqlite3(path, { readonly: true, fileMustExist: true, timeout: SQLITE_BUSY_TIMEOUT_MS });
      return new GatehouseSqliteDialect({ database });
    }
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    // create the file ourselves: SQLite would create it with the umask's mode (usually 0644),
    // and its -wal and -shm files copy the main file's mode
    const handle = await open(path, 'a', 0o600);
    await handle.close();
    const mode = (await stat(path)).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      await chmod(path, 0o600);
      logger.warn({ path, mode: mode.toString(8) }, 'storage: the SQLite database was readable by others; its mode is now 0600');
    }
    database = new BetterSqlite3(path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma('foreign_keys = ON');
  } catch (error) {
    const reason = (error as { code?: unknown }).code;
    throw new StorageError(
      'open_failed',
      `storage: local: cannot open the SQLite database at '${path}'${typeof reason === 'string' ? ` (${reason})` : ''}`,
      { cause: error },
    );
  }
  return new GatehouseSqliteDialect({ database });
}

// int8 (bigint columns, count(*)) as a JS number instead of pg's default string: our values are
// millisecond times and row ids, far below 2^53. Per pool, not pg.types.setTypeParser (global).
const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === PG_INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export const DEFAULT_STATEMENT_TIMEOUT_MS = 5_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
export const QUERY_READ_TIMEOUT = 'Query read timeout'; // pg's message for query_timeout; it has no code

/**
 * A client whose timed-out query also ends its connection: pg leaves the hung query active on the
 * socket (and a transaction possibly open), so the pool must not hand that connection out again.
 */
class TimeoutClient extends pg.Client {
  // @ts-expect-error pg's overloads; Kysely calls query(text, values) and awaits the promise
  override query(...args: unknown[]): unknown {
    const result = (super.query as (...a: unknown[]) => unknown)(...args);
    if (result instanceof Promise) {
      return result.catch((error: unknown) => {
        if ((error as Error)?.message === QUERY_READ_TIMEOUT) {
          const client = this as unknown as { _ending: boolean; connection: { stream: { destroy(): void } } };
          // marked as ending before the release that follows: the pool drops the client instead of
          // handing it out again, and pg takes the close for ours (an 'error' event on a checked-out
          // client has no listener and would end the process)
          client._ending = true;
          client.connection.stream.destroy();
        }
        throw error;
      });
    }
    return result;
  }
}

/** `readOnly`: every transaction of the pool is read-only, so a check that must not write cannot (`config validate --check`). */
export function createPostgresDialect(options: PostgresStorageOptions, logger: Logger, mode: { readOnly?: boolean } = {}): { dialect: PostgresDialect; pool: pg.Pool } {
  const { host, port } = parsePostgresAddress(options.address);
  const statementTimeout = options.statement_timeout ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const pool = new pg.Pool({
    Client: TimeoutClient as unknown as typeof pg.Client,
    host,
    port,
    database: options.database,
    user: options.username,
    password: options.password,
    // connecting, and waiting for a free pooled connection
    connectionTimeoutMillis: options.timeout,
    // a hung server or network: the client gives up; a slow query: the server cancels it
    query_timeout: statementTimeout,
    statement_timeout: statementTimeout,
    idle_in_transaction_session_timeout: statementTimeout,
    idleTimeoutMillis: options.idle_timeout ?? DEFAULT_IDLE_TIMEOUT_MS,
    keepAlive: true,
    application_name: 'gatehouse',
    types: pgTypes,
    ...(mode.readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
  });
  // without a listener, an idle connection dropped by the server would crash the process; the
  // storage's outage log reports the failures requests see
  pool.on('error', (error) => logger.debug({ err: error.message }, 'storage: an idle PostgreSQL connection failed'));
  // nor for one checked out between two queries (a transaction waiting on its work): pg-pool listens
  // only while a connection is idle. Its next query fails (`unreachable`) and the pool drops it on release.
  pool.on('connect', (client) => client.on('error', (error) => logger.debug({ err: error.message }, 'storage: a PostgreSQL connection in use failed')));
  const searchPath = CompiledQuery.raw(`set search_path to ${quoteIdentifier(options.schema || 'public')}`);
  const dialect = new PostgresDialect({
    pool,
    onCreateConnection: async (connection) => {
      await connection.executeQuery(searchPath);
    },
  });
  return { dialect, pool };
}
