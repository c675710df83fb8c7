/**
 * The MySQL / MariaDB dialect, in a module of its own so that a gateway on SQLite or PostgreSQL never
 * loads the mysql2 driver (storage/open.ts imports this file only when storage.mysql is set).
 */
import { connect as connectTcp } from 'node:net';
import { createPool } from 'mysql2';
import type { PoolOptions } from 'mysql2';
import type { Pool, PoolConnection } from 'mysql2';
import { CompiledQuery, MysqlDialect } from 'kysely';
import type { DatabaseConnection, MysqlPool, MysqlPoolConnection } from 'kysely';
import type { Logger } from 'pino';
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS, parseMysqlAddress } from './options.ts';
import type { MysqlStorageOptions } from './options.ts';
import type { TlsClientOptions } from '../../lib/net/tls-client.ts';

/** How much longer than the server's statement timeout the client waits for an answer. */
const CLIENT_TIMEOUT_MARGIN_MS = 500;

/**
 * The pooled connection as Kysely takes it, each query with mysql2's timeout: a query that times out
 * ends its connection (mysql2 destroys it), so the pool never hands out one with a hung query on it.
 */
function timedConnection(connection: PoolConnection, timeout: number): MysqlPoolConnection {
  return new Proxy(connection, {
    get(target, property) {
      if (property === 'query') {
        return (text: string, parameters: unknown, callback: (error: unknown, result: unknown) => void) =>
          target.query({ sql: text, timeout }, parameters as never, callback as never);
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as unknown as MysqlPoolConnection;
}

/**
 * mysql2's TLS options. mysql2 checks the server's name only with `verifyIdentity`, and only against its
 * `host`, never an IP address (Node then checks 'localhost'): the connection is opened here, to the
 * address, with the expected name where Node looks for it when no SNI name is given (the socket's
 * `_host`); mysql2's `host` is the expected name, so its own check (for a DNS name) agrees.
 */
function mysqlTls(tls: TlsClientOptions, endpoint: { host: string; port: number }): Pick<PoolOptions, 'ssl' | 'host' | 'port' | 'stream'> {
  const verify = tls.rejectUnauthorized !== false;
  const ssl: NonNullable<PoolOptions['ssl']> = {
    rejectUnauthorized: verify,
    verifyIdentity: verify,
    ...(tls.ca ? { ca: tls.ca as string[] } : {}),
    ...(tls.cert ? { cert: tls.cert as string, key: tls.key as string } : {}),
    ...(tls.minVersion ? { minVersion: tls.minVersion } : {}),
    ...(tls.maxVersion ? { maxVersion: tls.maxVersion } : {}),
  };
  const stream = () => {
    const socket = connectTcp(endpoint.port, endpoint.host).setNoDelay(true).setKeepAlive(true);
    (socket as unknown as { _host: string })._host = tls.expectedName;
    return socket;
  };
  return { ssl, host: tls.expectedName, port: endpoint.port, stream };
}

/** The server's variable that ends a slow statement: MariaDB's (seconds, every statement), else MySQL's (ms, reads). */
async function limitStatements(connection: DatabaseConnection, timeoutMs: number): Promise<void> {
  try {
    await connection.executeQuery(CompiledQuery.raw(`set session max_statement_time = ${timeoutMs / 1000}`));
  } catch {
    await connection.executeQuery(CompiledQuery.raw(`set session max_execution_time = ${Math.ceil(timeoutMs)}`));
  }
}

/**
 * `readOnly`: every transaction of the pool is read-only, so a check that must not write cannot
 * (`config validate --check`). Each connection speaks utf8mb4, in strict mode (an over-long value is
 * an error, never silently cut), waits for a row lock no longer than a statement may run.
 */
export function createMysqlDialect(options: MysqlStorageOptions, logger: Logger, mode: { readOnly?: boolean } = {}): { dialect: MysqlDialect; pool: Pool } {
  const endpoint = parseMysqlAddress(options.address);
  const statementTimeout = options.statement_timeout ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const pool = createPool({
    // no TLS on a socket (storageOptionsFromConfig gives it none)
    ...(endpoint.socketPath !== undefined ? { socketPath: endpoint.socketPath } : options.tls ? mysqlTls(options.tls, endpoint) : { host: endpoint.host, port: endpoint.port }),
    database: options.database,
    user: options.username,
    password: options.password,
    charset: 'utf8mb4_bin',
    connectTimeout: options.timeout,
    idleTimeout: options.idle_timeout ?? DEFAULT_IDLE_TIMEOUT_MS,
    maxIdle: 2,
    connectionLimit: 10,
    enableKeepAlive: true,
    // affectedRows counts the rows an update matched, as PostgreSQL and SQLite count them
    flags: ['FOUND_ROWS'],
  });
  // an idle connection dropped by the server must not crash the process; the storage's outage log
  // reports the failures requests see
  pool.on('connection', (connection) => {
    connection.on('error', (error) => logger.debug({ err: error.message }, 'storage: a MySQL connection failed'));
  });
  const lockWaitSeconds = Math.max(1, Math.ceil(statementTimeout / 1000));
  // a hung server or network: the client gives up a little after the server would have ended the statement
  const clientTimeout = statementTimeout + CLIENT_TIMEOUT_MARGIN_MS;
  const timedPool: MysqlPool = {
    getConnection(callback) {
      pool.getConnection((error, connection) => callback(error, error ? (connection as never) : timedConnection(connection, clientTimeout)));
    },
    end: (callback) => pool.end(callback),
  };
  const dialect = new MysqlDialect({
    pool: timedPool,
    onCreateConnection: async (connection) => {
      await connection.executeQuery(CompiledQuery.raw("set session sql_mode = concat(@@sql_mode, ',STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION')"));
      await connection.executeQuery(CompiledQuery.raw(`set session innodb_lock_wait_timeout = ${lockWaitSeconds}`));
      await limitStatements(connection, statementTimeout);
      if (mode.readOnly) await connection.executeQuery(CompiledQuery.raw('set session transaction read only'));
    },
  });
  return { dialect, pool };
}
