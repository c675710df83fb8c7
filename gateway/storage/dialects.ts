import { chmod, mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { SqliteAdapter, SqliteDialect } from 'kysely';
import type { DialectAdapter, SqliteDatabase } from 'kysely';
import type { SQLInputValue } from 'node:sqlite';
import type { Logger } from 'pino';
import { StorageError } from './errors.ts';

// a writer waits this long for another's lock (a second instance, the CLI) before SQLITE_BUSY (a 503)
const SQLITE_BUSY_TIMEOUT_MS = 5000;

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

/** How many prepared statements a connection keeps (queries with `in (?, ?…)` lists vary in text). */
const STATEMENTS_KEPT = 256;

/**
 * The connection as Kysely takes it, keeping each prepared statement for the next query with the same
 * text: Kysely prepares on every query, and SQLite's prepare (parsing, planning) cost more than the
 * lookups themselves (tests/bench/oidc.ts). Nothing iterates a statement (no `stream()` in storage), so
 * a kept statement is never busy when it is asked for again; least recently used first out.
 */
function keepingStatements(database: BetterSqlite3.Database): SqliteDatabase {
  const kept = new Map<string, BetterSqlite3.Statement>();
  return {
    close() {
      kept.clear();
      database.close();
    },
    prepare(sql) {
      let statement = kept.get(sql);
      if (statement) kept.delete(sql);
      else {
        statement = database.prepare(sql);
        if (kept.size >= STATEMENTS_KEPT) kept.delete(kept.keys().next().value!);
      }
      kept.set(sql, statement);
      return statement;
    },
  };
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
  return new GatehouseSqliteDialect({ database: keepingStatements(database) });
}
