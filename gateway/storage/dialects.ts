import { chmod, mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { SqliteAdapter, SqliteDialect } from 'kysely';
import type { DialectAdapter } from 'kysely';
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

/**
 * Opens (creating if needed) the SQLite file with mode 0600 in WAL mode. `readOnly`: opens an existing
 * file for reading and changes nothing, neither the file nor its mode (`config validate --check`).
 */
export async function createSqliteDialect(path: string, logger: Logger, options: { readOnly?: boolean } = {}): Promise<SqliteDialect> {
  let database: BetterSqlite3.Database;
  try {
    if (options.readOnly) {
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
