import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { MysqlStorageOptions } from '../../gateway/storage/options.ts';

const HOST = '127.0.0.1';
const PORT = 3306;
const ADMIN = { host: HOST, port: PORT, user: 'root', password: '', connectTimeout: 3_000 };

export interface TestMysqlDatabase {
  /** `storage.mysql` options for the new, empty database */
  readonly options: MysqlStorageOptions;
  /** Drops the database (the server ends nothing: Gatehouse closes its connections first). */
  drop(): Promise<void>;
}

/** Runs `work` on a connection to the local MariaDB server as root (no database selected unless given). */
export async function withMysqlAdmin<T>(work: (connection: mysql.Connection) => Promise<T>, database?: string): Promise<T> {
  let connection: mysql.Connection;
  try {
    connection = await mysql.createConnection({ ...ADMIN, ...(database ? { database } : {}) });
  } catch (error) {
    const reason = (error as { code?: string }).code ?? (error as Error).message;
    throw new Error(
      `MariaDB is not reachable at ${HOST}:${PORT} as 'root' without a password (${reason}). The storage tests need the local ` +
        `server: install it (apt-get install mariadb-server) and start it (service mariadb start).`,
      { cause: error },
    );
  }
  try {
    return await work(connection);
  } finally {
    await connection.end();
  }
}

/** A fresh database `gatehouse_test_<random hex>` on the local MariaDB server. */
export async function createTestMysqlDatabase(): Promise<TestMysqlDatabase> {
  const database = `gatehouse_test_${randomBytes(6).toString('hex')}`;
  await withMysqlAdmin((connection) => connection.query(`create database \`${database}\``));
  return {
    options: { address: `tcp://${HOST}:${PORT}`, database, username: 'root', password: '', timeout: 5_000 },
    drop: () => withMysqlAdmin((connection) => connection.query(`drop database if exists \`${database}\``)).then(() => {}),
  };
}
