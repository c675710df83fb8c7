import { StorageError } from './errors.ts';

/** `storage.*` from the configuration; exactly one of `local`, `postgres` and `mysql`. */
export interface StorageOptions {
  encryption_key: string;
  local?: LocalStorageOptions;
  postgres?: PostgresStorageOptions;
  mysql?: MysqlStorageOptions;
}

/** MySQL or MariaDB (Authelia's `storage.mysql`). */
export interface MysqlStorageOptions {
  /** `tcp://host:3306` (tcp4/tcp6 too) or `unix:///run/mysqld/mysqld.sock` */
  address: string;
  database: string;
  username: string;
  password: string;
  /** connect timeout, ms */
  timeout: number;
  /** each query, ms (the server's max_statement_time on MariaDB, max_execution_time for reads on MySQL); default 5000 */
  statement_timeout?: number;
  /** an unused pooled connection is closed after this, ms; default 30000 */
  idle_timeout?: number;
}

export type MysqlEndpoint = { host: string; port: number; socketPath?: undefined } | { socketPath: string; host?: undefined; port?: undefined };

export function parseMysqlAddress(address: string): MysqlEndpoint {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw invalidMysqlAddress();
  }
  if (url.protocol === 'unix:') {
    if (!url.pathname || url.pathname === '/') throw invalidMysqlAddress();
    return { socketPath: decodeURIComponent(url.pathname) };
  }
  if (!['tcp:', 'tcp4:', 'tcp6:'].includes(url.protocol) || !url.hostname) throw invalidMysqlAddress();
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: url.port ? Number(url.port) : 3306 };
}

/** `127.0.0.1:3306` or the socket's path, for messages. */
export function describeMysqlEndpoint(endpoint: MysqlEndpoint): string {
  return endpoint.socketPath ?? `${endpoint.host}:${endpoint.port}`;
}

function invalidMysqlAddress(): StorageError {
  return new StorageError('invalid_options', "storage: mysql: option 'address' must look like 'tcp://host:3306' or 'unix:///run/mysqld/mysqld.sock'");
}

export interface LocalStorageOptions {
  path: string;
}

export interface PostgresStorageOptions {
  /** `tcp://host:5432` (tcp4/tcp6 too) or `unix:///var/run/postgresql` */
  address: string;
  database: string;
  /** default `public` */
  schema: string;
  username: string;
  password: string;
  /** connect timeout, ms */
  timeout: number;
  /** each query, ms (client side, and the server's statement_timeout); default 5000 */
  statement_timeout?: number;
  /** an unused pooled connection is closed after this, ms; default 30000 */
  idle_timeout?: number;
}

export interface PostgresEndpoint {
  host: string;
  port: number;
}

export function parsePostgresAddress(address: string): PostgresEndpoint {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw invalidAddress();
  }
  if (url.protocol === 'unix:') {
    if (!url.pathname || url.pathname === '/') throw invalidAddress();
    return { host: decodeURIComponent(url.pathname), port: 5432 };
  }
  if (!['tcp:', 'tcp4:', 'tcp6:'].includes(url.protocol) || !url.hostname) throw invalidAddress();
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: url.port ? Number(url.port) : 5432 };
}

function invalidAddress(): StorageError {
  return new StorageError(
    'invalid_options',
    // the value is not echoed: a mistyped address may carry credentials
    "storage: postgres: option 'address' must look like 'tcp://host:5432' or 'unix:///var/run/postgresql'",
  );
}

/** `storage.*` as the configuration holds it (`postgres.timeout`, `mysql.timeout` in seconds) → what openStorage takes (ms). */
export function storageOptionsFromConfig(cfg: {
  encryption_key?: string;
  local?: LocalStorageOptions;
  postgres?: PostgresStorageOptions;
  mysql?: MysqlStorageOptions;
}): StorageOptions {
  return {
    encryption_key: cfg.encryption_key!,
    local: cfg.local,
    postgres: cfg.postgres ? { ...cfg.postgres, timeout: cfg.postgres.timeout * 1000 } : undefined,
    mysql: cfg.mysql ? { ...cfg.mysql, timeout: cfg.mysql.timeout * 1000 } : undefined,
  };
}

export const DEFAULT_STATEMENT_TIMEOUT_MS = 5_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** pg's message for a query_timeout; it has no code. */
export const QUERY_READ_TIMEOUT = 'Query read timeout';
