/**
 * The database handle every repository runs its queries through: the Kysely instance (the pool, or one
 * transaction's connection) and the one place a driver error becomes a StorageError. Private to
 * gateway/storage/: nothing outside this folder sees Kysely or SQL.
 */
import type { Kysely, SqlBool } from 'kysely';
import { StorageError } from './errors.ts';
import type { OutageLog } from '../../lib/outage-log.ts';
import type { Database, StorageDialect } from './types.ts';

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly dialect: StorageDialect;
  /**
   * Runs one operation. Every failure of the database is a StorageError whose message names `action`,
   * never the SQL (that stays in `cause`): `unreachable` when the database did not answer, else
   * `query_failed`. A StorageError from within (a repository's query inside a transaction) is rethrown
   * as it is, and so is an error `isCallersOwn` recognises (the caller's code failed, not the database).
   */
  run<T>(action: string, work: (db: Kysely<Database>) => Promise<T>, options?: { isCallersOwn?: (error: unknown) => boolean }): Promise<T>;
  /** A boolean as the dialect binds it. */
  bool(value: boolean): SqlBool;
}

export function fromSqlBool(value: SqlBool): boolean {
  return value === true || value === 1;
}

/**
 * Whether a failed query says the database is unreachable or overloaded (try again later) rather than
 * that the query itself is wrong: no answer in time, a lost or refused connection, a server shutting
 * down or cancelling on statement_timeout, or SQLite's lock wait running out.
 */
const MYSQL_UNREACHABLE = new Set([
  'ER_STATEMENT_TIMEOUT', 'ER_QUERY_TIMEOUT', 'ER_LOCK_WAIT_TIMEOUT', 'ER_QUERY_INTERRUPTED', 'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN', 'ER_TOO_MANY_USER_CONNECTIONS', 'ER_LOCK_DEADLOCK',
]);

function isUnreachable(error: unknown, dialect: StorageDialect): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (dialect === 'sqlite') return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
  if (dialect === 'mysql') {
    // the server's own errors: a statement or lock wait ended by its timeout, a server going away;
    // without a server error code (ECONNREFUSED, PROTOCOL_CONNECTION_LOST…), the connection failed
    if (typeof code === 'string' && code.startsWith('ER_')) return MYSQL_UNREACHABLE.has(code);
    return true;
  }
  // pg's own timeouts and lost connections carry no SQLSTATE
  if (typeof code !== 'string') return true;
  if (/^[0-9A-Z]{5}$/.test(code)) return code.startsWith('08') || ['57014', '57P01', '57P02', '57P03', '53300'].includes(code);
  return true; // ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE …
}

export function createDatabaseHandle(init: {
  db: Kysely<Database>;
  dialect: StorageDialect;
  /** counts failures and recoveries (one line per outage); absent inside a transaction */
  outage?: OutageLog;
  /** true once the storage is closed: every operation is refused */
  isClosed?: () => boolean;
}): DatabaseHandle {
  const { db, dialect, outage } = init;
  const isClosed = init.isClosed ?? (() => false);
  return {
    db,
    dialect,
    // better-sqlite3 cannot bind JS booleans, nor MySQL's tinyint(1) hand them back; PostgreSQL's boolean columns want them
    bool: (value) => (dialect === 'postgres' ? value : value ? 1 : 0),
    async run(action, work, options) {
      if (isClosed()) throw new StorageError('closed', `storage: could not ${action}: the database is closed`);
      try {
        const result = await work(db);
        outage?.success();
        return result;
      } catch (error) {
        if (error instanceof StorageError) {
          // classified where it happened; a database that did not answer still counts as an outage here
          if (error.code === 'unreachable') outage?.failure(error.cause ?? error);
          throw error;
        }
        // a bug in the caller's work (a TypeError…) is no outage and no 503: it keeps its identity
        if (options?.isCallersOwn?.(error)) throw error;
        if (isUnreachable(error, dialect)) {
          // one line per outage (the outage log), and a 503 for the request
          outage?.failure(error);
          throw new StorageError('unreachable', `storage: could not ${action}: the database did not answer`, { cause: error });
        }
        throw new StorageError('query_failed', `storage: could not ${action}`, { cause: error });
      }
    },
  };
}
