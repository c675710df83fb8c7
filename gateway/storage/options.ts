import { tlsClientOptions, type TlsClientOptions, type TlsClientSettings } from '../../lib/net/tls-client.ts';
import { DEFAULT_TRUST, type TrustedCertificates } from '../../lib/net/trusted-cas.ts';
import { StorageError } from './errors.ts';

/** `storage.*` from the configuration; exactly one of `local`, `postgres` and `mysql`. */
export interface StorageOptions {
  encryption_key: string;
  local?: LocalStorageOptions;
  postgres?: PostgresStorageOptions;
  mysql?: MysqlStorageOptions;
}

/** What `storage.mysql` and `storage.postgres` share. */
export interface SqlStorageOptions {
  address: string;
  database: string;
  username: string;
  password: string;
  /** connect timeout, ms */
  timeout: number;
  /** each query, ms; default 5000 */
  statement_timeout?: number;
  /** an unused pooled connection is closed after this, ms; default 30000 */
  idle_timeout?: number;
  /** TLS to `address` (Node's options, CAs included: tlsClientOptions); none: clear text. Not used on a socket. */
  tls?: TlsClientOptions;
}

/**
 * MySQL or MariaDB (Authelia's `storage.mysql`). `address`: `tcp://host:3306` (tcp4/tcp6 too) or
 * `unix:///run/mysqld/mysqld.sock`; `statement_timeout` is the server's max_statement_time on MariaDB,
 * max_execution_time for reads on MySQL.
 */
export type MysqlStorageOptions = SqlStorageOptions;

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

/**
 * `storage.postgres`. `address`: `tcp://host:5432` (tcp4/tcp6 too) or `unix:///var/run/postgresql`;
 * `statement_timeout` is enforced client side and as the server's statement_timeout.
 */
export interface PostgresStorageOptions extends SqlStorageOptions {
  /** default `public` */
  schema: string;
  /** Fallback servers, tried in order when `address` cannot be reached (Authelia's `servers`), each with its own TLS. */
  servers?: PostgresServer[];
}

export interface PostgresServer {
  address: string;
  tls?: TlsClientOptions;
}

export interface PostgresEndpoint {
  host: string;
  port: number;
  /** `host` is a unix socket's directory */
  socket: boolean;
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
    return { host: decodeURIComponent(url.pathname), port: 5432, socket: true };
  }
  if (!['tcp:', 'tcp4:', 'tcp6:'].includes(url.protocol) || !url.hostname) throw invalidAddress();
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: url.port ? Number(url.port) : 5432, socket: false };
}

function invalidAddress(): StorageError {
  return new StorageError(
    'invalid_options',
    // the value is not echoed: a mistyped address may carry credentials
    "storage: postgres: option 'address' must look like 'tcp://host:5432' or 'unix:///var/run/postgresql'",
  );
}

type ConfiguredSql<T> = Omit<T, 'tls' | 'servers'> & { tls?: TlsClientSettings | undefined };

/**
 * `storage.*` as the configuration holds it (`postgres.timeout`, `mysql.timeout` in seconds, `tls` as
 * Authelia's block) → what openStorage takes (ms, Node's TLS options with the CAs of `trusted`).
 */
export function storageOptionsFromConfig(
  cfg: {
    encryption_key?: string;
    local?: LocalStorageOptions;
    postgres?: ConfiguredSql<PostgresStorageOptions> & { servers?: Array<{ address: string; tls?: TlsClientSettings | undefined }> };
    mysql?: ConfiguredSql<MysqlStorageOptions>;
  },
  trusted: TrustedCertificates = DEFAULT_TRUST,
): StorageOptions {
  const postgresTls = (address: string, tls: TlsClientSettings | undefined) => {
    if (!tls) return {};
    let endpoint: PostgresEndpoint;
    try {
      endpoint = parsePostgresAddress(address);
    } catch {
      return {}; // openStorage refuses the address itself
    }
    return endpoint.socket ? {} : { tls: tlsClientOptions(tls, trusted, endpoint.host) };
  };
  const mysqlTls = (address: string, tls: TlsClientSettings | undefined) => {
    if (!tls) return {};
    let endpoint: MysqlEndpoint;
    try {
      endpoint = parseMysqlAddress(address);
    } catch {
      return {};
    }
    return endpoint.socketPath !== undefined ? {} : { tls: tlsClientOptions(tls, trusted, endpoint.host) };
  };
  const { postgres, mysql } = cfg;
  return {
    encryption_key: cfg.encryption_key!,
    local: cfg.local,
    postgres: postgres
      ? {
          ...withoutTls(postgres),
          timeout: postgres.timeout * 1000,
          ...postgresTls(postgres.address, postgres.tls),
          servers: (postgres.servers ?? []).map((server) => ({ address: server.address, ...postgresTls(server.address, server.tls) })),
        }
      : undefined,
    mysql: mysql ? { ...withoutTls(mysql), timeout: mysql.timeout * 1000, ...mysqlTls(mysql.address, mysql.tls) } : undefined,
  };
}

function withoutTls<T extends { tls?: unknown; servers?: unknown }>(options: T): Omit<T, 'tls' | 'servers'> {
  const { tls: _tls, servers: _servers, ...rest } = options;
  return rest;
}

export const DEFAULT_STATEMENT_TIMEOUT_MS = 5_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** pg's message for a query_timeout; it has no code. */
export const QUERY_READ_TIMEOUT = 'Query read timeout';
