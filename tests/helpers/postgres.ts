import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { PostgresStorageOptions } from '../../gateway/storage/options.ts';

const HOST = '127.0.0.1';
const PORT = 5432;
const ADMIN = { host: HOST, port: PORT, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 3_000 };

export interface TestDatabase {
  /** `storage.postgres` options for the new, empty database */
  readonly options: PostgresStorageOptions;
  /** Drops the database, closing any connection still open to it. */
  drop(): Promise<void>;
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(ADMIN);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    const reason = (error as { code?: string }).code ?? (error as Error).message;
    throw new Error(
      `PostgreSQL is not reachable at ${HOST}:${PORT} as 'postgres' (${reason}). The storage tests need the local server with ` +
        `trust authentication for 127.0.0.1: install it (apt-get install postgresql) and start it ` +
        `(pg_ctlcluster <version> main start; pg_lsclusters shows the version).`,
      { cause: error },
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh database `gatehouse_test_<random hex>` on the local PostgreSQL server. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const database = `gatehouse_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((client) => client.query(`create database ${database}`));
  return {
    options: { address: `tcp://${HOST}:${PORT}`, database, schema: 'public', username: 'postgres', password: '', timeout: 5_000 },
    drop: () => withAdmin((client) => client.query(`drop database if exists ${database} with (force)`)).then(() => {}),
  };
}
