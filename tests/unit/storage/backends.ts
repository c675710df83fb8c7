// Shared by the storage and regulation tests: every behaviour runs on SQLite, on PostgreSQL and on MariaDB.
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { pino } from 'pino';
import { captureLogs } from '../../helpers/logs.ts';
import type { Logger } from 'pino';
import type { StorageOptions } from '../../../gateway/storage/options.ts';
import { openStorage } from '../../../gateway/storage/open.ts';
import type { Storage } from '../../../gateway/storage/storage.ts';
import { createTestMysqlDatabase, withMysqlAdmin } from '../../helpers/mariadb.ts';
import { createTestDatabase } from '../../helpers/postgres.ts';
import { makeTempDir } from '../../helpers/tmp.ts';

export const TEST_KEY = 'a-test-encryption-key-long-enough';

export interface Backend {
  readonly name: 'sqlite' | 'postgres' | 'mysql';
  /** An empty database; `cleanup` removes it. */
  create(): Promise<{ options: StorageOptions; cleanup: () => Promise<void> }>;
}

export const BACKENDS: readonly Backend[] = [
  {
    name: 'sqlite',
    async create() {
      const temp = await makeTempDir('gatehouse-storage-');
      return { options: { encryption_key: TEST_KEY, local: { path: join(temp.dir, 'data', 'db.sqlite3') } }, cleanup: temp.cleanup };
    },
  },
  {
    name: 'postgres',
    async create() {
      const database = await createTestDatabase();
      return { options: { encryption_key: TEST_KEY, postgres: database.options }, cleanup: database.drop };
    },
  },
  {
    name: 'mysql',
    async create() {
      const database = await createTestMysqlDatabase();
      return { options: { encryption_key: TEST_KEY, mysql: database.options }, cleanup: database.drop };
    },
  },
];

/** A pino logger whose JSON lines the test can read back. */
export function recordingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const { logger, records } = captureLogs();
  return { logger, lines: () => records };
}

export const silentLogger: Logger = pino({ level: 'silent' });

/** An identifier quoted for rawQuery on this database (MySQL's are in backticks; `"x"` is a string there). */
export function quoted(options: StorageOptions, name: string): string {
  return options.mysql ? `\`${name}\`` : `"${name}"`;
}

/** Runs one statement straight through the driver, beside Gatehouse (to prepare or inspect a database). */
export async function rawQuery(options: StorageOptions, statement: string): Promise<Record<string, unknown>[]> {
  if (options.local) {
    await mkdir(dirname(options.local.path), { recursive: true });
    const db = new BetterSqlite3(options.local.path);
    try {
      const prepared = db.prepare(statement);
      return prepared.reader ? (prepared.all() as Record<string, unknown>[]) : (prepared.run(), []);
    } finally {
      db.close();
    }
  }
  if (options.mysql) {
    return withMysqlAdmin(async (connection) => {
      const [rows] = await connection.query(statement);
      return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
    }, options.mysql.database);
  }
  const postgres = options.postgres!;
  const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: postgres.username, database: postgres.database });
  await client.connect();
  try {
    return (await client.query(statement)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

/** Two Storage instances on the same database (two gateways), closed when the test ends. */
export async function twoInstances(options: StorageOptions, t: { after(fn: () => Promise<void>): void }): Promise<[Storage, Storage]> {
  const first = await openStorage(options, { logger: silentLogger, migrate: true });
  t.after(() => first.close());
  const second = await openStorage(options, { logger: silentLogger, migrate: true });
  t.after(() => second.close());
  return [first, second];
}
